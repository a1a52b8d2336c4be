// Storage arrays: volumes, snapshots (restore points of the snapshot tier, each restorable from a
// clone), and the live clones with the job that uses each and where they are presented.
import { useState, type FormEvent } from 'react';
import type { ArrayView, StorageSnapshotPoint } from '../../shared/domain.ts';
import { useApi, useArrays, useStorageSnapshots } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';
import { toggled } from './toggled.ts';
import { AlternateLocation } from './LocationNote.tsx';

function RestoreFromSnapshot({ snapshot }: { snapshot: StorageSnapshotPoint }) {
  const api = useApi();
  const openJob = useConsole((state) => state.openJob);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [path, setPath] = useState('');
  const [error, setError] = useState<string | null>(null);
  const toggle = (name: string): void => setPicked(toggled(picked, name));
  const start = (event: FormEvent): void => {
    event.preventDefault();
    api.invoke('restore.fromSnapshot', { vms: [...picked], snapshot: snapshot.id, target: { kind: 'local', path: path.trim() } }).then(
      ({ job }) => openJob(job.id),
      (failure: Error) => setError(failure.message),
    );
  };
  if (snapshot.vms.length === 0) return <span className="muted">no VMs on it</span>;
  return (
    <form onSubmit={start} aria-label={`Restore from ${snapshot.id}`}>
      {snapshot.vms.map((vm) => (
        <span key={vm.name} className="field">
          <input type="checkbox" id={`${snapshot.id}-${vm.name}`} checked={picked.has(vm.name)} onChange={() => toggle(vm.name)} />{' '}
          <label htmlFor={`${snapshot.id}-${vm.name}`} style={{ display: 'inline' }}>
            {vm.name}
          </label>{' '}
        </span>
      ))}
      <AlternateLocation what="the VMs are restored as new copies from a clone of the snapshot" />
      <label>
        Restore to folder
        <input value={path} onChange={(event) => setPath(event.target.value)} placeholder="/srv/from-snapshot" />
      </label>
      <button type="submit" disabled={picked.size === 0 || !path.trim()}>
        Restore {picked.size} VM(s) from a clone
      </button>
      {error && (
        <span role="alert" className="error">
          {' '}
          {error}
        </span>
      )}
    </form>
  );
}

function OneArray({ array, snapshots }: { array: ArrayView; snapshots: StorageSnapshotPoint[] }) {
  const api = useApi();
  const [error, setError] = useState<string | null>(null);
  const take = (volume: string): void => {
    setError(null);
    api.invoke('arrays.snapshot', { volume }).catch((failure: Error) => setError(failure.message));
  };
  return (
    <section aria-labelledby={`array-${array.name}`}>
      <h3 id={`array-${array.name}`}>{array.name}</h3>
      <p className="muted">
        Serial {array.serial}, {array.protocol.toUpperCase()} at {array.address}; {array.clones.length} of {array.cloneQuota} clones in use,{' '}
        {array.clonesCreated} made so far.
      </p>
      <table className="grid">
        <caption>Volumes of {array.name}</caption>
        <thead>
          <tr>
            <th>Volume</th>
            <th>Datastore folder</th>
            <th>Actions</th>
          </tr>
        </thead>
        <tbody>
          {array.volumes.map((volume) => (
            <tr key={volume.name}>
              <td>{volume.name}</td>
              <td>{volume.folder}</td>
              <td>
                <button onClick={() => take(volume.name)}>Take a snapshot of {volume.name}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <table className="grid">
        <caption>Snapshots of {array.name} (restore points of the snapshot tier)</caption>
        <thead>
          <tr>
            <th>Snapshot</th>
            <th>Volume</th>
            <th>Taken</th>
            <th>Restore</th>
          </tr>
        </thead>
        <tbody>
          {snapshots.length === 0 && (
            <tr>
              <td colSpan={4} className="muted">
                No snapshots.
              </td>
            </tr>
          )}
          {snapshots.map((snapshot) => (
            <tr key={snapshot.id} data-snapshot={snapshot.id}>
              <td>{snapshot.id}</td>
              <td>{snapshot.volume}</td>
              <td>{formatTime(snapshot.createdAt)}</td>
              <td>
                <RestoreFromSnapshot snapshot={snapshot} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <table className="grid">
        <caption>Live clones of {array.name}</caption>
        <thead>
          <tr>
            <th>Clone</th>
            <th>Of snapshot</th>
            <th>Used by</th>
            <th>Allowed servers</th>
            <th>Presented as</th>
          </tr>
        </thead>
        <tbody>
          {array.clones.length === 0 && (
            <tr>
              <td colSpan={5} className="muted">
                No live clones.
              </td>
            </tr>
          )}
          {array.clones.map((clone) => (
            <tr key={clone.id} data-clone={clone.id}>
              <td>{clone.id}</td>
              <td>{clone.snapshotId}</td>
              <td>{clone.usedBy}</td>
              <td>{clone.allowedServers.join(', ') || '—'}</td>
              <td>{clone.presentations.map((entry) => `${entry.datastore} on ${entry.host} (${entry.protocol})`).join(', ') || '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function ArraysView() {
  const arrays = useArrays();
  const snapshots = useStorageSnapshots();
  return (
    <section aria-labelledby="arrays-heading">
      <h2 id="arrays-heading">Storage arrays</h2>
      {(arrays.data ?? []).length === 0 ? (
        <p className="empty">
          No storage arrays. <code>lifeboat array create &lt;name&gt; --path DIR</code> makes a file-backed one (its folder on XFS or
          btrfs).
        </p>
      ) : (
        (arrays.data ?? []).map((array) => (
          <OneArray key={array.name} array={array} snapshots={(snapshots.data ?? []).filter((snapshot) => snapshot.array === array.name)} />
        ))
      )}
    </section>
  );
}
