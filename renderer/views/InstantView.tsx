// Instant Recovery: run a VM straight from a restore point on a vSphere host, then watch its
// sessions (cache, read/write rates, age) and migrate each to production or stop it.
import { useRef, useState, type FormEvent } from 'react';
import type { InstantSession } from '../../shared/domain.ts';
import { formatAge, formatBytes } from '../../shared/format.ts';
import { useApi, useHostInventory, useHosts, useInstantSessions, usePoints, useStorageSnapshots, useVms } from '../api/queries.ts';
import { AlternateLocation } from './LocationNote.tsx';

const DEFAULT_LISTEN = '127.0.0.1:2049';
type Sample = { at: number; read: number; written: number };

/** Bytes per second between the last two samples of each session. */
function useRates(sessions: InstantSession[]): Map<string, { read: number; written: number }> {
  const samples = useRef(new Map<string, { previous: Sample; rate: { read: number; written: number } }>());
  const now = Date.now();
  for (const session of sessions) {
    const known = samples.current.get(session.id);
    const sample = { at: now, read: session.bytesRead, written: session.bytesWritten };
    if (!known) samples.current.set(session.id, { previous: sample, rate: { read: 0, written: 0 } });
    else if (now - known.previous.at >= 1000) {
      const seconds = (now - known.previous.at) / 1000;
      samples.current.set(session.id, {
        previous: sample,
        rate: { read: (sample.read - known.previous.read) / seconds, written: (sample.written - known.previous.written) / seconds },
      });
    }
  }
  return new Map([...samples.current].map(([id, entry]) => [id, entry.rate]));
}

function StartForm() {
  const api = useApi();
  const vms = useVms();
  const hosts = useHosts();
  const [vm, setVm] = useState('');
  const [point, setPoint] = useState('latest');
  const [host, setHost] = useState('');
  const [hostSystem, setHostSystem] = useState('');
  const [name, setName] = useState('');
  const [listen, setListen] = useState(DEFAULT_LISTEN);
  const [redirectTo, setRedirectTo] = useState('');
  const [password, setPassword] = useState('');
  const [message, setMessage] = useState<{ tone: 'error' | 'info'; text: string } | null>(null);
  const points = usePoints(vm || null);
  const snapshots = useStorageSnapshots();
  // Storage snapshots holding the VM come first: the VM then runs from a clone on the array.
  const snapshotTier = (snapshots.data ?? []).filter((snapshot) =>
    snapshot.vms.some((found) => found.name.toLowerCase() === vm.toLowerCase()),
  );
  const fromSnapshot = snapshotTier.some((snapshot) => snapshot.id === point) ? point : null;
  const inventory = useHostInventory(host || null);
  const chosen = point === 'latest' ? points.data?.[0] : points.data?.find((entry) => String(entry.sequence) === point);
  const encrypted = !fromSnapshot && Boolean(chosen?.keyId);
  const start = (event: FormEvent): void => {
    event.preventDefault();
    setMessage(null);
    const request = fromSnapshot
      ? { vm, host, fromSnapshot, ...(hostSystem ? { hostSystem } : {}), ...(name.trim() ? { name: name.trim() } : {}) }
      : {
          vm,
          point,
          host,
          listen: listen.trim(),
          ...(hostSystem ? { hostSystem } : {}),
          ...(name.trim() ? { name: name.trim() } : {}),
          ...(redirectTo.trim() ? { redirectTo: redirectTo.trim() } : {}),
          ...(password ? { password } : {}),
        };
    api.invoke('instant.start', request).then(
      ({ session }) => setMessage({ tone: 'info', text: `Starting ${session.name} on ${host}: its session is below.` }),
      (failure: Error) => setMessage({ tone: 'error', text: failure.message }),
    );
  };
  return (
    <section aria-labelledby="instant-heading" className="wizard">
      <h2 id="instant-heading">Instant Recovery</h2>
      <p className="muted">
        Runs a VM straight from its backup: the restore point is served over NFS as a datastore on the host, the VM is registered and
        powered on, and its writes go to a cache. Nothing is restored first.
      </p>
      <AlternateLocation what="the VM runs as a new registration from the backup's datastore (quick migration later moves it to production)" />
      <form onSubmit={start}>
        <label htmlFor="instant-vm">VM</label>
        <select
          id="instant-vm"
          value={vm}
          onChange={(event) => {
            setVm(event.target.value);
            setPoint('latest');
          }}
          required
        >
          <option value="">Choose…</option>
          {(vms.data ?? []).map((entry) => (
            <option key={entry.id} value={entry.name}>
              {entry.name}
            </option>
          ))}
        </select>
        <label htmlFor="instant-point">Restore point</label>
        <select id="instant-point" value={point} onChange={(event) => setPoint(event.target.value)}>
          {snapshotTier.map((snapshot) => (
            <option key={snapshot.id} value={snapshot.id}>
              Storage snapshot {snapshot.id} ({snapshot.array}) · {snapshot.createdAt}
            </option>
          ))}
          <option value="latest">Latest backup</option>
          {(points.data ?? []).map((entry) => (
            <option key={entry.id} value={String(entry.sequence)}>
              Backup #{entry.sequence} · {entry.createdAt}
            </option>
          ))}
        </select>
        <label htmlFor="instant-host">vSphere host</label>
        <select id="instant-host" value={host} onChange={(event) => setHost(event.target.value)} required>
          <option value="">Choose…</option>
          {(hosts.data ?? []).map((entry) => (
            <option key={entry.id} value={entry.name}>
              {entry.name}
            </option>
          ))}
        </select>
        <label htmlFor="instant-esxi">ESXi host to run on</label>
        <select id="instant-esxi" value={hostSystem} onChange={(event) => setHostSystem(event.target.value)}>
          <option value="">The first connected one</option>
          {(inventory.data?.hostSystems ?? [])
            .filter((system) => system.connected)
            .map((system) => (
              <option key={system.name} value={system.name}>
                {system.name}
              </option>
            ))}
        </select>
        <label>
          Run it as (name on the host)
          <input value={name} onChange={(event) => setName(event.target.value)} placeholder="the backed-up VM's name" />
        </label>
        {fromSnapshot ? (
          <p className="muted">The array exports a clone of the snapshot to the host; the VM runs and writes there.</p>
        ) : (
          <>
            <label>
              NFS server listens on (an address the host can reach)
              <input value={listen} onChange={(event) => setListen(event.target.value)} required />
            </label>
            {encrypted && (
              <label>
                Encryption password (the point is encrypted; not needed when its key is remembered)
                <input type="password" autoComplete="off" value={password} onChange={(event) => setPassword(event.target.value)} />
              </label>
            )}
            <label>
              Redirect the VM's writes to a production folder
              <input
                value={redirectTo}
                onChange={(event) => setRedirectTo(event.target.value)}
                placeholder="leave empty for the session's cache"
              />
            </label>
          </>
        )}
        <div className="actions">
          <button type="submit" disabled={!vm || !host || (!fromSnapshot && !listen.trim())}>
            Start Instant Recovery
          </button>
        </div>
      </form>
      {message && (
        <p role={message.tone === 'error' ? 'alert' : 'status'} className={message.tone === 'error' ? 'error' : 'muted'}>
          {message.text}
        </p>
      )}
    </section>
  );
}

function SessionActions({ session }: { session: InstantSession }) {
  const api = useApi();
  const inventory = useHostInventory(session.host);
  const [mode, setMode] = useState<'idle' | 'migrate' | 'stop'>('idle');
  const [datastore, setDatastore] = useState('');
  const [error, setError] = useState<string | null>(null);
  if (session.state !== 'running') return <span className="muted">{session.note ?? '—'}</span>;
  const act = (call: Promise<unknown>): void => {
    setError(null);
    call.then(
      () => setMode('idle'),
      (failure: Error) => setError(failure.message),
    );
  };
  const production = (inventory.data?.datastores ?? []).filter((entry) => entry.name !== session.datastore && entry.type !== 'NFS');
  return (
    <div className="actions">
      {mode === 'idle' && (
        <>
          <button onClick={() => setMode('migrate')}>Migrate {session.name}</button>
          <button onClick={() => setMode('stop')}>Stop {session.name}</button>
        </>
      )}
      {mode === 'migrate' && (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            act(api.invoke('instant.migrate', { sessionId: session.id, datastore }));
          }}
        >
          <label htmlFor={`migrate-${session.id}`}>Production datastore</label>
          <select id={`migrate-${session.id}`} value={datastore} onChange={(event) => setDatastore(event.target.value)} required>
            <option value="">Choose…</option>
            {production.map((entry) => (
              <option key={entry.name} value={entry.name}>
                {entry.name} ({formatBytes(entry.freeSpace)} free)
              </option>
            ))}
          </select>
          <button type="submit" disabled={!datastore}>
            Migrate to {datastore || '…'}
          </button>
          <button type="button" onClick={() => setMode('idle')}>
            Back
          </button>
        </form>
      )}
      {mode === 'stop' && (
        <>
          <span>
            Power {session.name} off and discard its {formatBytes(session.cacheBytes)} of writes?
          </span>
          <button onClick={() => act(api.invoke('instant.stop', { sessionId: session.id }))}>Yes, stop it</button>
          <button onClick={() => setMode('idle')}>Back</button>
        </>
      )}
      {error && (
        <span role="alert" className="error">
          {' '}
          {error}
        </span>
      )}
    </div>
  );
}

function Sessions() {
  const sessions = useInstantSessions();
  const list = sessions.data ?? [];
  const rates = useRates(list);
  if (list.length === 0) return <p className="empty">No Instant Recovery sessions.</p>;
  return (
    <table className="grid">
      <caption>Instant Recovery sessions</caption>
      <thead>
        <tr>
          <th>VM</th>
          <th>Runs as</th>
          <th>Host</th>
          <th>Datastore</th>
          <th>State</th>
          <th>Cache</th>
          <th>Reads</th>
          <th>Writes</th>
          <th>Age</th>
          <th>Powered on</th>
          <th>Actions</th>
        </tr>
      </thead>
      <tbody>
        {list.map((session) => {
          const rate = rates.get(session.id) ?? { read: 0, written: 0 };
          return (
            <tr key={session.id} data-session={session.id}>
              <td>{session.vmName}</td>
              <td>{session.name}</td>
              <td>
                {session.host}
                {session.hostSystem ? ` / ${session.hostSystem}` : ''}
              </td>
              <td title={session.nfsUrl}>{session.datastore}</td>
              <td data-state={session.state}>{session.state}</td>
              <td>
                {formatBytes(session.cacheBytes)}
                {session.redirected ? ' (redirected)' : ''}
              </td>
              <td>
                {formatBytes(rate.read)}/s <span className="muted">({formatBytes(session.bytesRead)})</span>
              </td>
              <td>
                {formatBytes(rate.written)}/s <span className="muted">({formatBytes(session.bytesWritten)})</span>
              </td>
              <td>{formatAge(session.createdAt, session.endedAt)}</td>
              <td>{session.poweredOnSeconds === null ? '—' : `${session.poweredOnSeconds.toFixed(1)} s`}</td>
              <td>
                <SessionActions session={session} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function InstantView() {
  return (
    <div className="tape">
      <StartForm />
      <section aria-labelledby="instant-sessions-heading">
        <h2 id="instant-sessions-heading">Sessions</h2>
        <Sessions />
      </section>
    </div>
  );
}
