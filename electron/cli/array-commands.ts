// `lifeboat array …` and `snapshots`: storage arrays (the built-in file-backed one), their
// snapshots as restore points, and what each array presents now.
import type { LifeboatApi } from '../../shared/contract.ts';
import type { ArrayView } from '../../shared/domain.ts';
import { table } from '../../shared/format.ts';
import { positiveInt, UsageError, type Output } from './cli-output.ts';

export type ArrayFlags = {
  path?: string | undefined;
  protocol?: string | undefined;
  'clone-quota'?: string | undefined;
  'time-scale'?: string | undefined;
  vm?: string | undefined;
};

export function arrayText(array: ArrayView): string {
  return [
    `${array.name} (serial ${array.serial}, ${array.protocol} at ${array.address}, ${array.clones.length} of ${array.cloneQuota} clones, ${array.clonesCreated} made so far) in ${array.root}`,
    table([['VOLUME', 'DATASTORE FOLDER', 'CREATED'], ...array.volumes.map((volume) => [volume.name, volume.folder, volume.createdAt])]),
    array.snapshots.length === 0
      ? 'no snapshots'
      : table([['SNAPSHOT', 'VOLUME', 'TAKEN'], ...array.snapshots.map((snapshot) => [snapshot.id, snapshot.volume, snapshot.createdAt])]),
    array.clones.length === 0
      ? 'no live clones'
      : table([
          ['CLONE', 'OF', 'USED BY', 'ALLOWED SERVERS', 'PRESENTED AS'],
          ...array.clones.map((clone) => [
            clone.id,
            clone.snapshotId,
            clone.usedBy,
            clone.allowedServers.join(', ') || '-',
            clone.presentations.map((entry) => `${entry.datastore} on ${entry.host} (${entry.protocol})`).join(', ') || '-',
          ]),
        ]),
    ...array.hosts.map((host) => `static iSCSI targets of ${host.name}: ${host.staticTargets.join(', ')}`),
  ].join('\n');
}

export async function arrayCommand(api: LifeboatApi, rest: string[], values: ArrayFlags, out: Output): Promise<number> {
  const [verb, argument] = rest;
  switch (verb) {
    case 'create': {
      if (!argument)
        throw new UsageError('array create takes: <name> [--path DIR] [--protocol iscsi|fc|nfs] [--clone-quota N] [--time-scale S]');
      const protocol = values.protocol;
      if (protocol !== undefined && protocol !== 'iscsi' && protocol !== 'fc' && protocol !== 'nfs')
        throw new UsageError('--protocol is iscsi, fc or nfs');
      const timeScale = values['time-scale'] === undefined ? undefined : Number(values['time-scale']);
      if (timeScale !== undefined && !(timeScale > 0)) throw new UsageError('--time-scale takes a positive number');
      const { array, volume } = await api.invoke('arrays.create', {
        name: argument,
        ...(values.path ? { path: values.path } : {}),
        ...(protocol ? { protocol } : {}),
        ...(values['clone-quota'] ? { cloneQuota: positiveInt(values['clone-quota'], 16, '--clone-quota') } : {}),
        ...(timeScale !== undefined ? { timeScale } : {}),
      });
      out.print(
        `array ${array.name} ready; volume ${volume.name} is the datastore folder ${volume.folder}: put VM folders there, then \`lifeboat array snapshot ${volume.name}\``,
        { array, volume },
      );
      return 0;
    }
    case 'snapshot': {
      if (!argument) throw new UsageError('array snapshot takes: <volume name or folder>');
      const snapshot = await api.invoke('arrays.snapshot', { volume: argument });
      out.print(
        `${snapshot.id} (array ${snapshot.array}, volume ${snapshot.volume}): ${snapshot.vms.map((vm) => vm.name).join(', ') || 'no VMs found'}`,
        snapshot,
      );
      return 0;
    }
    case 'show': {
      if (!argument) throw new UsageError('array show takes: <name>');
      const array = await api.invoke('arrays.show', { name: argument });
      out.print(arrayText(array), array);
      return 0;
    }
    case 'list': {
      const arrays = await api.invoke('arrays.list', {});
      out.print(arrays.length === 0 ? 'no arrays; `lifeboat array create <name>` makes one' : arrays.map(arrayText).join('\n\n'), arrays);
      return 0;
    }
    default:
      throw new UsageError('array takes: create <name> | snapshot <volume> | show <name> | list');
  }
}

export async function snapshotsCommand(api: LifeboatApi, values: ArrayFlags, out: Output): Promise<number> {
  const snapshots = await api.invoke('snapshots.list', values.vm ? { vm: values.vm } : {});
  out.print(
    snapshots.length === 0
      ? 'no storage snapshots'
      : table([
          ['SNAPSHOT', 'ARRAY', 'VOLUME', 'TAKEN', 'VMS'],
          ...snapshots.map((snapshot) => [
            snapshot.id,
            snapshot.array,
            snapshot.volume,
            snapshot.createdAt,
            snapshot.vms.map((vm) => vm.name).join(', '),
          ]),
        ]),
    snapshots,
  );
  return 0;
}
