// Data movers: the `lifeboat mover` processes on proxy hosts that write restored disks where
// their datastores are. Each with its state, what it reaches, the disks it carries now and how
// fast, what went wrong last and when its certificate expires; add one (a one-time join token),
// remove one (its certificate is revoked and its tasks go to another mover).
import { useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { MoverSummary, MoverTask } from '../../shared/domain.ts';
import { formatBytes } from '../../shared/format.ts';
import { useApi, useMovers } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { Confirmed } from './Confirmed.tsx';
import { MoverAddForm } from './MoverAddForm.tsx';
import { formatTime } from './time.ts';

const transportNames: Record<MoverSummary['transports'][number], string> = { san: 'SAN', hotadd: 'HotAdd', nbd: 'NBD' };

function TaskLine({ task }: { task: MoverTask }) {
  const openJob = useConsole((state) => state.openJob);
  const percent = task.bytesTotal > 0 ? Math.min(100, Math.floor((task.bytesDone * 100) / task.bytesTotal)) : 0;
  return (
    <li>
      <button
        className="link"
        onClick={() => openJob(task.jobId)}
        aria-label={`Job ${task.jobId.slice(0, 8)}, disk ${task.disk}: open the job`}
      >
        job {task.jobId.slice(0, 8)}
      </button>{' '}
      {task.disk} · {percent}%
    </li>
  );
}

function RemoveMover({ mover }: { mover: MoverSummary }) {
  const api = useApi();
  const queries = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const remove = (): void => {
    setError(null);
    api.invoke('movers.remove', { mover: mover.name }).then(
      () => void queries.invalidateQueries({ queryKey: ['movers'] }),
      (failure: Error) => setError(failure.message),
    );
  };
  const running = mover.tasks.length;
  return (
    <>
      <Confirmed
        label={`Remove ${mover.name}`}
        question={`Remove mover ${mover.name}? Its certificate is revoked and ${
          running > 0 ? `its ${running} running task(s) move` : 'any task it is running moves'
        } to another mover that can take them.`}
        confirmLabel={`Yes, remove ${mover.name}`}
        onConfirm={remove}
      />
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </>
  );
}

function MoverRow({ mover }: { mover: MoverSummary }) {
  const datastores = Object.entries(mover.datastores);
  const online = mover.state === 'connected';
  return (
    <tr data-mover={mover.name} data-state={mover.state}>
      <th scope="row">{mover.name}</th>
      <td>{mover.host}</td>
      <td>{mover.proxyVm ?? '—'}</td>
      <td>
        <span className={`badge mover-${mover.state}`}>{mover.state}</span>
      </td>
      <td>{mover.transports.map((transport) => transportNames[transport]).join(', ') || '—'}</td>
      <td>
        {datastores.length === 0 ? (
          '—'
        ) : (
          <ul className="plain">
            {datastores.map(([name, path]) => (
              <li key={name}>
                {name} <span className="muted">at {path}</span>
              </li>
            ))}
          </ul>
        )}
      </td>
      <td>
        {mover.tasks.length === 0 ? (
          <span className="muted">{online ? `idle, ${mover.slots} slot(s)` : '—'}</span>
        ) : (
          <ul className="plain">
            {mover.tasks.map((task) => (
              <TaskLine key={`${task.jobId}/${task.disk}`} task={task} />
            ))}
          </ul>
        )}
      </td>
      <td>{online ? `${formatBytes(mover.bytesPerSecond)}/s` : '—'}</td>
      <td className={mover.lastError ? 'error' : undefined}>{mover.lastError ?? '—'}</td>
      <td>{mover.lastSeenAt ? formatTime(mover.lastSeenAt) : 'never'}</td>
      <td>{mover.certificateExpiresAt ? formatTime(mover.certificateExpiresAt) : '—'}</td>
      <td>{mover.state !== 'removed' && <RemoveMover mover={mover} />}</td>
    </tr>
  );
}

export function MoversView() {
  const movers = useMovers();
  return (
    <section aria-labelledby="movers-heading">
      <h2 id="movers-heading">Data movers</h2>
      <p className="muted">
        A mover runs on a proxy host (<code>lifeboat mover</code>) and writes restored disks to the datastores that host sees; without one,
        the engine's own workers carry the bytes.
      </p>
      {movers.isPending && <p role="status">Loading movers…</p>}
      {movers.isError && <p role="alert">Could not load movers: {movers.error.message}</p>}
      {movers.data && movers.data.length === 0 && <p className="empty">No movers yet.</p>}
      {movers.data && movers.data.length > 0 && (
        <table className="grid movers">
          <caption className="visually-hidden">Data movers</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">vSphere host</th>
              <th scope="col">Proxy VM</th>
              <th scope="col">State</th>
              <th scope="col">Transports</th>
              <th scope="col">Datastores it sees</th>
              <th scope="col">Tasks</th>
              <th scope="col">Throughput</th>
              <th scope="col">Last error</th>
              <th scope="col">Last seen</th>
              <th scope="col">Certificate expires</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {movers.data.map((mover) => (
              <MoverRow key={mover.id} mover={mover} />
            ))}
          </tbody>
        </table>
      )}
      <MoverAddForm />
    </section>
  );
}
