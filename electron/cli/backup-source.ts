// What `lifeboat backup` reads: `local:<folder>` or `vsphere:<host>/<vm>` with its flags. Only the
// shape is checked here; whether the host is in the catalog and the VM exists is the engine's answer.
import type { RequestOf } from '../../shared/contract.ts';
import { TransportMode } from '../../shared/domain.ts';
import { localPath, UsageError } from './cli-output.ts';

type BackupSource = RequestOf<'backup.start'>['source'];
export type BackupSourceFlags = { transport?: string | undefined; quiesce?: boolean | undefined };

const VSPHERE_PREFIX = 'vsphere:';
const VSPHERE_USAGE = 'a vSphere source is vsphere:<host>/<vm> (the host as `lifeboat hosts` names it, the VM by its name)';

export function backupSource(argument: string | undefined, flags: BackupSourceFlags): BackupSource {
  if (argument?.startsWith(VSPHERE_PREFIX)) return vsphereSource(argument.slice(VSPHERE_PREFIX.length), flags);
  if (flags.transport !== undefined || flags.quiesce) throw new UsageError('--transport and --quiesce are for vsphere:<host>/<vm> sources');
  return { kind: 'local', path: localPath(argument, 'backup source (local:<folder> or vsphere:<host>/<vm>)') };
}

function vsphereSource(hostAndVm: string, flags: BackupSourceFlags): BackupSource {
  // The host name has no slash (catalog names are letters, digits, dot, dash, underscore); the VM name may.
  const slash = hostAndVm.indexOf('/');
  const host = slash < 0 ? hostAndVm : hostAndVm.slice(0, slash);
  const vm = slash < 0 ? '' : hostAndVm.slice(slash + 1);
  if (host.trim() === '') throw new UsageError(`${VSPHERE_USAGE}: the host is missing`);
  if (vm.trim() === '') throw new UsageError(`${VSPHERE_USAGE}: the VM is missing`);
  const transport = TransportMode.safeParse(flags.transport ?? 'auto');
  if (!transport.success) throw new UsageError(`--transport takes auto, san, hotadd or nbd (not "${flags.transport}")`);
  return { kind: 'vsphere', host, vm, transport: transport.data, quiesce: flags.quiesce ?? false };
}
