// Item-level restore: pick a VM and a point on its timeline, expand folders (one request each),
// tick files and folders, preview text and images, search the index, restore the picked items.
import { useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import type { FileEntry } from '../../shared/domain.ts';
import { describeIndexGaps, formatBytes, printableName } from '../../shared/format.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';
import { isInsideVolume } from '../../shared/item-paths.ts';
import { useApi, usePoints, useVms } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';
import { VirtualList } from './VirtualList.tsx';
import { toggled } from './toggled.ts';
import { AlternateLocation } from './LocationNote.tsx';

type Row = { path: string; depth: number; entry: FileEntry };

function Preview({ vm, point, path }: { vm: string; point: string; path: string }) {
  const api = useApi();
  const preview = useQuery({ queryKey: ['preview', vm, point, path], queryFn: () => api.invoke('files.preview', { vm, point, path }) });
  if (preview.isPending) return <p role="status">Reading {path}…</p>;
  if (preview.isError) return <p role="alert">{preview.error.message}</p>;
  const { kind, mime, base64, size, truncated } = preview.data;
  return (
    <section className="preview-pane" aria-label={`Preview of ${path}`}>
      <h3>
        {path.split('/').at(-1)}{' '}
        <span className="muted">
          ({formatBytes(size)}
          {truncated ? ', first 256 KiB' : ''})
        </span>
      </h3>
      {kind === 'text' && <pre>{new TextDecoder().decode(Uint8Array.from(atob(base64), (char) => char.charCodeAt(0)))}</pre>}
      {kind === 'image' && base64 && <img alt={path} src={`data:${mime};base64,${base64}`} />}
      {(kind === 'binary' || (kind === 'image' && !base64)) && <p className="muted">No preview for this file.</p>}
    </section>
  );
}

export function FilesView() {
  const api = useApi();
  const queries = useQueryClient();
  const openJob = useConsole((state) => state.openJob);
  const vms = useVms();
  const [vm, setVm] = useState<string | null>(null);
  const points = usePoints(vm);
  const [chosenPoint, setChosenPoint] = useState<string | null>(null);
  const point = chosenPoint ?? points.data?.[0]?.id ?? null;
  const [expanded, setExpanded] = useState<string[]>(['/']);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [previewed, setPreviewed] = useState<string | null>(null);
  const [pattern, setPattern] = useState('');
  const [target, setTarget] = useState('');
  const [onClash, setOnClash] = useState<'keep-both' | 'overwrite' | 'skip'>('keep-both');
  const [archive, setArchive] = useState<'' | 'zip' | 'tar'>('');
  const [error, setError] = useState<string | null>(null);

  const listings = useQueries({
    queries: expanded.map((path) => ({
      queryKey: ['files', vm, point, path],
      queryFn: () => api.invoke('files.list', { vm: vm as string, point: point as string, path }),
      enabled: vm !== null && point !== null,
      staleTime: Infinity,
    })),
  });
  const childrenOf = new Map(expanded.map((path, index) => [path, listings[index]?.data]));
  const rows: Row[] = [];
  const addRows = (path: string, depth: number): void => {
    for (const entry of childrenOf.get(path) ?? []) {
      const child = `${path === '/' ? '' : path}/${escapeGuestName(entry.name).name}`; // a name holding '/' is picked by its escaped name
      rows.push({ path: child, depth, entry });
      if (expanded.includes(child)) addRows(child, depth + 1);
    }
  };
  addRows('/', 0);
  const search = useQuery({
    queryKey: ['search', pattern, vm],
    queryFn: () => api.invoke('files.search', { pattern, ...(vm ? { vm } : {}) }),
    enabled: pattern.trim().length >= 2,
  });

  const pickVm = (id: string): void => {
    setVm(id);
    setChosenPoint(null);
    setExpanded(['/']);
    setSelected(new Set());
    setPreviewed(null);
  };
  const toggle = (path: string): void =>
    setExpanded((open) =>
      open.includes(path) ? open.filter((candidate) => candidate !== path && !candidate.startsWith(`${path}/`)) : [...open, path],
    );
  const tick = (path: string): void => setSelected((picked) => toggled(picked, path));
  const restore = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    setError(null);
    try {
      const { job } = await api.invoke('files.restore', {
        vm: vm as string,
        point: point as string,
        paths: [...selected],
        target: { kind: 'local', path: target.trim() },
        onClash,
        ...(archive ? { archive } : {}),
      });
      await queries.invalidateQueries({ queryKey: ['jobs'] });
      openJob(job.id);
    } catch (failure) {
      setError((failure as Error).message);
    }
  };

  return (
    <div className="files">
      <section aria-labelledby="files-heading">
        <h2 id="files-heading">Files</h2>
        <label htmlFor="files-vm">Virtual machine</label>
        <select id="files-vm" value={vm ?? ''} onChange={(event) => pickVm(event.target.value)}>
          <option value="" disabled>
            Choose a VM
          </option>
          {vms.data?.map((candidate) => (
            <option key={candidate.id} value={candidate.id}>
              {candidate.name}
            </option>
          ))}
        </select>
        <label>
          Search the index
          <input
            type="search"
            value={pattern}
            onChange={(event) => setPattern(event.target.value)}
            placeholder="invoice-2025, *.conf, host?ame"
            title="Part of a file name, or the whole name with * (any characters) and ? (one character)"
          />
        </label>
        <span className="muted">Part of a name, or the whole name with * and ? wildcards.</span>
        {search.data && (
          <ul className="hits" aria-label="Search results">
            {search.data.hits.length === 0 && <li className="muted">Nothing of that name in the index.</li>}
            {search.data.hits.map((hit) => (
              <li key={`${hit.vmId}${hit.path}`}>
                {hit.vmName} <code>{hit.path}</code>{' '}
                <span className="muted">in point(s) {hit.versions.map((version) => `#${version.sequence}`).join(', ')}</span>
              </li>
            ))}
            {search.data.gaps.flatMap(describeIndexGaps).map((line) => (
              <li key={line} role="note" className="warning">
                {line}
              </li>
            ))}
          </ul>
        )}
        {vm && (
          <ol className="timeline" aria-label="Restore points">
            {points.data?.map((candidate) => (
              <li key={candidate.id}>
                <button
                  aria-pressed={candidate.id === point}
                  onClick={() => {
                    setChosenPoint(candidate.id);
                    setExpanded(['/']);
                    setSelected(new Set());
                  }}
                >
                  #{candidate.sequence} <span className="muted">{formatTime(candidate.createdAt)}</span>
                </button>
              </li>
            ))}
          </ol>
        )}
        {vm && point && (
          <VirtualList
            items={rows}
            rowHeight={26}
            height={360}
            label="Files of the restore point"
            render={(row) => (
              <div
                className="row"
                style={{ paddingLeft: row.depth * 18 }}
                role="treeitem"
                aria-expanded={row.entry.type === 'dir' ? expanded.includes(row.path) : undefined}
                aria-selected={selected.has(row.path)}
              >
                {row.entry.type === 'dir' ? (
                  <button
                    className="twisty"
                    onClick={() => toggle(row.path)}
                    aria-label={`${expanded.includes(row.path) ? 'Collapse' : 'Expand'} ${printableName(row.entry.name)}`}
                  >
                    {expanded.includes(row.path) ? '▾' : '▸'}
                  </button>
                ) : (
                  <span className="twisty" />
                )}
                {isInsideVolume(row.path) && (
                  <input type="checkbox" checked={selected.has(row.path)} onChange={() => tick(row.path)} aria-label={`Pick ${row.path}`} />
                )}
                {/* A guest's name may hold control characters or bidi overrides: shown escaped, as the CLI does. */}
                {row.entry.type === 'file' ? (
                  <button className="link" onClick={() => setPreviewed(row.path)}>
                    {printableName(row.entry.name)}
                  </button>
                ) : (
                  <span>{printableName(row.entry.name)}</span>
                )}
                <span className="muted">
                  {' '}
                  {row.entry.type === 'file'
                    ? formatBytes(row.entry.size)
                    : row.entry.problem === undefined
                      ? printableName(row.entry.target ?? '')
                      : ''}
                </span>
                {row.entry.problem !== undefined && (
                  <span className="warning" role="note">
                    {' '}
                    could not be read: {row.entry.problem}
                  </span>
                )}
                {row.entry.notes?.map((note) => (
                  <span key={note} className={note.startsWith('may be stale') ? 'warning' : 'muted'} role="note">
                    {' '}
                    {note}
                  </span>
                ))}
              </div>
            )}
          />
        )}
      </section>
      <aside>
        {vm && point && previewed && <Preview vm={vm} point={point} path={previewed} />}
        {selected.size > 0 && (
          <form className="restore-items" onSubmit={(event) => void restore(event)} aria-label="Restore the picked items">
            <h3>Restore {selected.size} picked item(s)</h3>
            <AlternateLocation what="the items go to a folder on this machine" />
            <label>
              Into folder
              <input value={target} onChange={(event) => setTarget(event.target.value)} placeholder="/home/operator/restored" required />
            </label>
            <label htmlFor="files-clash">If a name exists</label>
            <select id="files-clash" value={onClash} onChange={(event) => setOnClash(event.target.value as typeof onClash)}>
              <option value="keep-both">Keep both</option>
              <option value="overwrite">Overwrite</option>
              <option value="skip">Skip</option>
            </select>
            <label htmlFor="files-archive">As</label>
            <select id="files-archive" value={archive} onChange={(event) => setArchive(event.target.value as typeof archive)}>
              <option value="">Files and folders</option>
              <option value="zip">One .zip archive</option>
              <option value="tar">One .tar archive</option>
            </select>
            {error && (
              <p role="alert" className="error">
                {error}
              </p>
            )}
            <button type="submit" disabled={!target.trim()}>
              Restore items
            </button>
          </form>
        )}
      </aside>
    </div>
  );
}
