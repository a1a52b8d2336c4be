// `lifeboat movers …`: the data movers of the engine (`lifeboat mover` processes on proxy hosts):
// their state, tasks and throughput; adding one prints its one-time join token and the command
// line to run on the proxy host; removing one revokes its certificate.
import type { LifeboatApi } from '../../shared/contract.ts';
import type { MoverSummary } from '../../shared/domain.ts';
import { formatBytes, table } from '../../shared/format.ts';
import { UsageError, type Output } from './cli-output.ts';
import type { CliValues } from './options.ts';

function moverRow(mover: MoverSummary): string[] {
  return [
    mover.name,
    mover.host,
    mover.state,
    mover.transports.join(',') || '-',
    Object.keys(mover.datastores).join(',') || '-',
    mover.state === 'connected' ? `${mover.tasks.length}/${mover.slots}` : '-',
    mover.state === 'connected' ? `${formatBytes(mover.bytesPerSecond)}/s` : '-',
    mover.certificateExpiresAt?.slice(0, 10) ?? '-',
    mover.lastError ?? '',
  ];
}

function listMovers(movers: MoverSummary[]): string {
  if (movers.length === 0)
    return 'no movers: restores move their bytes through the engine’s own workers (`lifeboat movers add <name> --host H`)';
  return table([
    ['NAME', 'HOST', 'STATE', 'TRANSPORTS', 'DATASTORES', 'TASKS', 'THROUGHPUT', 'CERT ENDS', 'LAST ERROR'],
    ...movers.map(moverRow),
  ]);
}

export async function moversCommand(api: LifeboatApi, rest: string[], values: CliValues, out: Output): Promise<number> {
  const [action = 'list', name, ...extra] = rest;
  if (action === 'list') {
    if (name !== undefined) throw new UsageError('movers list takes no name');
    const movers = await api.invoke('movers.list', {});
    out.print(listMovers(movers), movers);
    return 0;
  }
  if (!name || extra.length > 0) throw new UsageError(`movers ${action} takes one mover name`);
  if (action === 'remove') {
    const removed = await api.invoke('movers.remove', { mover: name });
    out.print(`mover ${removed.removed} removed: its certificate is refused from now on`, removed);
    return 0;
  }
  if (action !== 'add') throw new UsageError('movers takes: list | add <name> --host H [--proxy-vm VM] | remove <name>');
  if (!values.host) throw new UsageError('movers add needs --host (the vSphere host in the catalog the mover serves)');
  const added = await api.invoke('movers.add', { name, host: values.host, proxyVm: values['proxy-vm'] ?? null });
  out.print(
    [
      `mover ${added.mover.name} added for host ${added.mover.host}; its join token (shown only now, joins once within an hour):`,
      `  ${added.token}`,
      'on the proxy host, run (with its state folder and each datastore it sees as NAME=PATH):',
      `  ${added.command}`,
    ].join('\n'),
    added,
  );
  return 0;
}
