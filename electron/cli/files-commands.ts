// `lifeboat files ls | get | index | search`: items inside restore points (and storage snapshots).
import type { LifeboatApi } from '../../shared/contract.ts';
import type { FileEntry } from '../../shared/domain.ts';
import { describeIndexGaps, formatBytes, printableName, table } from '../../shared/format.ts';
import { splitVolumePath } from '../../shared/item-paths.ts';
import { runJobCommand, UsageError, type Output } from './cli-output.ts';
import { sourceChoice } from './copy-commands.ts';
import type { CliValues } from './options.ts';

/** A listing inside a volume (/diskN/partM/... or /lvm/<vg>/<lv>/...) repeats what the volume says
 * about itself, such as a view that may be stale: the listing of the disk or volume group holding it has it. */
async function volumeNotes(api: LifeboatApi, listing: { vm: string; point: string; path: string; fromPoint?: boolean }): Promise<string[]> {
  const split = splitVolumePath(listing.path);
  if (!split) return [];
  const parent = split.volume.slice(0, split.volume.lastIndexOf('/'));
  const name = split.volume.slice(parent.length + 1);
  const entry = (await api.invoke('files.list', { ...listing, path: parent })).find((candidate) => candidate.name === name);
  return (entry?.notes ?? []).map((note) => `${printableName(split.volume)}: ${printableName(note)}`);
}

/** A folder's entries as a table. Names, problems and notes hold the guest's bytes (names, LVM
 * metadata): control characters are shown escaped (--json keeps them raw). */
function entriesTable(entries: FileEntry[]): string {
  return table([
    ['TYPE', 'SIZE', 'MODIFIED', 'NAME'],
    ...entries.map((entry) => [
      entry.type,
      entry.type === 'file' ? formatBytes(entry.size) : '',
      entry.mtime ?? '',
      entry.problem !== undefined
        ? `${printableName(entry.name)} (could not be read: ${printableName(entry.problem)})`
        : entry.target
          ? `${printableName(entry.name)} -> ${printableName(entry.target)}`
          : printableName(entry.name),
    ]),
  ]);
}

export async function filesCommand(api: LifeboatApi, rest: string[], values: CliValues, out: Output): Promise<number> {
  const [action, vm, ...paths] = rest;
  if (action === 'search') {
    if (!vm) throw new UsageError('files search takes a pattern');
    const found = await api.invoke('files.search', { pattern: vm, ...(values.vm ? { vm: values.vm } : {}) });
    const hits =
      found.hits.length === 0
        ? 'no file of that name in the index'
        : found.hits
            .map(
              (hit) =>
                `${printableName(hit.vmName)} ${printableName(hit.path)}\n${hit.versions.map((version) => `    point ${version.sequence}: ${formatBytes(version.size)}${version.mtime ? `, modified ${new Date(version.mtime * 1000).toISOString()}` : ''}`).join('\n')}`,
            )
            .join('\n');
    out.print([hits, ...found.gaps.flatMap(describeIndexGaps).map((line) => `note: ${line}`)].join('\n'), found);
    return 0;
  }
  if (!vm || (action !== 'ls' && action !== 'get' && action !== 'index')) throw new UsageError('files takes: ls | get | index | search');
  const onClash = (values['on-clash'] ?? 'keep-both') as 'keep-both' | 'overwrite' | 'skip';
  const archive = values.archive as 'zip' | 'tar' | undefined;
  if (action === 'get' && values['from-snapshot']) {
    if (paths.length === 0 || !values.out) throw new UsageError('files get needs paths and --out DIR');
    const { job } = await api.invoke('files.restoreFromSnapshot', {
      vm,
      snapshot: values['from-snapshot'],
      paths,
      target: { kind: 'local', path: values.out },
      onClash,
      keepSpecialBits: values['keep-special-bits'],
      ...(archive ? { archive } : {}),
      ...(values['present-to'] ? { host: values['present-to'] } : {}),
    });
    return await runJobCommand(api, job, values.detach, out);
  }
  if (!values.point) throw new UsageError(`files ${action} needs --point <id|sequence|latest>`);
  if (action === 'index') {
    const { job } = await api.invoke('files.index', { vm, point: values.point });
    return await runJobCommand(api, job, values.detach, out);
  }
  if (action === 'ls' && values['from-index'] && values['from-point'])
    throw new UsageError('files ls takes --from-index or --from-point, not both');
  if (action === 'ls' && values['from-index']) {
    const path = paths[0] ?? '/';
    const listed = await api.invoke('files.listIndexed', { vm, point: values.point, path });
    const notes = listed.gaps.map(
      (gap) => `${gap.kind === 'stale' ? 'may be stale' : 'not in the index'}: ${printableName(gap.path)}: ${printableName(gap.reason)}`,
    );
    out.print([entriesTable(listed.entries), ...notes.map((note) => `note: ${note}`)].join('\n'), listed);
    return 0;
  }
  if (action === 'ls') {
    const listing = { vm, point: values.point, path: paths[0] ?? '/', ...(values['from-point'] ? { fromPoint: true } : {}) };
    const entries = await api.invoke('files.list', listing);
    const notes = [
      ...entries.flatMap((entry) => (entry.notes ?? []).map((note) => `${printableName(entry.name)}: ${printableName(note)}`)),
      ...(await volumeNotes(api, listing)),
    ];
    out.print([entriesTable(entries), ...notes.map((note) => `note: ${note}`)].join('\n'), entries);
    return 0;
  }
  if (paths.length === 0 || !values.out) throw new UsageError('files get needs paths and --out DIR');
  const { job } = await api.invoke('files.restore', {
    vm,
    point: values.point,
    paths,
    target: { kind: 'local', path: values.out },
    onClash,
    keepSpecialBits: values['keep-special-bits'],
    ...(archive ? { archive } : {}),
    ...(await sourceChoice(values)),
  });
  return await runJobCommand(api, job, values.detach, out);
}
