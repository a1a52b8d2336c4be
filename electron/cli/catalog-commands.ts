// `lifeboat vms`, `points <vm>` and `backup local:<folder> | vsphere:<host>/<vm>`: what the catalog holds, and backing up.
import type { LifeboatApi } from '../../shared/contract.ts';
import type { PointHealth } from '../../shared/domain.ts';
import { formatBytes, table } from '../../shared/format.ts';
import { backupSource } from './backup-source.ts';
import { runJobCommand, UsageError, type Output } from './cli-output.ts';
import { copiesText, passwordFrom } from './copy-commands.ts';
import type { CliValues } from './options.ts';

/** A point's health in one cell: ok, or what is wrong (a damaged point's reason in full). */
function healthText(health: PointHealth): string {
  return health.state === 'ok' ? 'ok' : `${health.state}${health.state === 'damaged' ? `: ${health.reason}` : ''}`;
}

export async function vmsCommand(api: LifeboatApi, out: Output): Promise<number> {
  const vms = await api.invoke('vms.list', {});
  out.print(
    vms.length === 0
      ? 'no VMs yet: `lifeboat lab create` makes a demo lab, `lifeboat backup local:<folder>` backs up a VM'
      : table([
          ['NAME', 'ID', 'POINTS', 'DISKS', 'SIZE', 'LATEST'],
          ...vms.map((vm) => [
            vm.name,
            vm.id,
            String(vm.pointCount),
            String(vm.diskCount),
            formatBytes(vm.provisionedBytes),
            vm.latestPointAt ?? '-',
          ]),
        ]),
    vms,
  );
  return 0;
}

export async function pointsCommand(api: LifeboatApi, rest: string[], out: Output): Promise<number> {
  if (!rest[0]) throw new UsageError('points takes a VM name or id');
  const points = await api.invoke('points.list', { vm: rest[0] });
  out.print(
    table([
      ['SEQ', 'ID', 'KIND', 'CREATED', 'CHANGED', 'STORED', 'ENCRYPTED', 'COPIES (FASTEST FIRST)', 'HEALTH'],
      ...points.map((point) => [
        String(point.sequence),
        point.id,
        point.kind,
        point.createdAt,
        formatBytes(point.changedBytes),
        formatBytes(point.storedBytes),
        point.keyId ? 'yes' : 'no',
        copiesText(point.copies),
        healthText(point.health),
      ]),
    ]),
    points,
  );
  return 0;
}

export async function backupCommand(api: LifeboatApi, rest: string[], values: CliValues, out: Output): Promise<number> {
  const source = backupSource(rest[0], { transport: values.transport, quiesce: values.quiesce });
  const password = passwordFrom(values['password-env'], '--password-env');
  const { job } = await api.invoke('backup.start', {
    source,
    encrypt: values.encrypt,
    rememberKey: values['remember-key'],
    ...(password ? { password } : {}),
  });
  return await runJobCommand(api, job, values.detach, out);
}
