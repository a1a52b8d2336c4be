// The job queue: every job in a virtualized list (a thousand stay smooth), filtered by state, kind
// and VM; a job's detail beside it with its steps, what limits it, its throughput over time, its
// log and what it needs from the operator. Destructive actions ask first.
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { formatBytes, formatSeconds } from '../../shared/format.ts';
import type { Job, JobSample } from '../../shared/domain.ts';
import { finishedJobStates, jobStates, JobKind } from '../../shared/domain.ts';
import { useApi, useJobDetail, useJobs } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime, useNow } from './time.ts';
import { carriedBy } from './carried-by.ts';
import { Confirmed } from './Confirmed.tsx';
import { ThroughputPlot } from './ThroughputPlot.tsx';
import { VirtualList } from './VirtualList.tsx';

const ROW_HEIGHT = 96;
const LIVE_SAMPLES = 600;

/** Four-eyes: a second signed-in person with the approver role approves. */
function ApprovalBox({ job }: { job: Job }) {
  const api = useApi();
  const [error, setError] = useState<string | null>(null);
  const approve = (event: FormEvent): void => {
    event.preventDefault();
    api.invoke('jobs.approve', { jobId: job.id }).then(
      () => setError(null),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <form className="approval" onSubmit={approve}>
      <p>
        Awaiting approval: asked for by {job.requestedBy ?? 'an operator'}; another signed-in account with the approver role must approve.
      </p>
      <button type="submit">Approve as the signed-in account</button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}

function JobActions({ job }: { job: Job }) {
  const api = useApi();
  return (
    <span className="actions-inline">
      {!finishedJobStates.has(job.state) && (
        <Confirmed
          label={`Cancel job for ${job.vmName}`}
          question={`Cancel ${job.summary}? What it made so far is removed.`}
          confirmLabel="Yes, cancel it"
          onConfirm={() => void api.invoke('jobs.cancel', { jobId: job.id })}
        />
      )}
      {job.state === 'interrupted' && job.kind === 'restore-entire-vm' && (
        <button onClick={() => void api.invoke('jobs.resume', { jobId: job.id })}>Resume job for {job.vmName}</button>
      )}
      {job.state === 'interrupted' && (
        <Confirmed
          label={`Discard job for ${job.vmName}`}
          question="Discard it? What it left behind is removed and it cannot be resumed."
          confirmLabel="Yes, discard"
          onConfirm={() => void api.invoke('jobs.discard', { jobId: job.id })}
        />
      )}
    </span>
  );
}

function percentOf(job: Job, done: number, total: number): number {
  return total > 0 ? Math.min(100, Math.floor((done * 100) / total)) : job.state === 'succeeded' ? 100 : 0;
}

function JobRow({ job, selected }: { job: Job; selected: boolean }) {
  const live = useConsole((state) => state.progress[job.id]);
  const selectJob = useConsole((state) => state.selectJob);
  const done = live?.bytesDone ?? job.bytesDone;
  const total = live?.bytesTotal ?? job.bytesTotal;
  const percent = percentOf(job, done, total);
  const running = job.state === 'running';
  const limit = running ? live?.bottleneck : (job.result?.bottleneck as string | undefined);
  return (
    <div className={`job state-${job.state}${selected ? ' selected' : ''}`} data-job-id={job.id} data-state={job.state}>
      <div className="job-head">
        <button
          className="link"
          onClick={() => selectJob(job.id)}
          aria-pressed={selected}
          aria-label={`Details of ${job.vmName}: ${job.summary}`}
        >
          <strong>{job.vmName}</strong>
        </button>{' '}
        <span className="badge">{job.state === 'waiting-for-operator' ? `needs you: ${job.waitingFor ?? ''}` : job.state}</span>{' '}
        <span className="muted">
          {job.kind} · {formatTime(job.createdAt)}
        </span>
      </div>
      <div className="muted ellipsis">{job.summary}</div>
      <progress max={100} value={percent} aria-label={`Progress of ${job.vmName}`}>
        {percent}%
      </progress>
      <div className="muted ellipsis">
        {percent}% · {formatBytes(done)} of {formatBytes(total)}
        {running && live && live.bytesPerSecond > 0 && (
          <>
            {' '}
            · {formatBytes(live.bytesPerSecond)}/s{live.etaSeconds !== null && <> · {formatSeconds(live.etaSeconds)} left</>}
          </>
        )}
        {limit && <> · limited by {limit}</>}
        {job.error && <span className="error"> · {job.error}</span>}
      </div>
    </div>
  );
}

/** What a stage's name leaves unsaid. */
const stageNotes: Record<string, string> = { network: 'repository → mover' };

function StageBars({ stages, bottleneck }: { stages: Record<string, number>; bottleneck: string | undefined }) {
  const total = Object.values(stages).reduce((sum, seconds) => sum + seconds, 0);
  if (total <= 0) return null;
  return (
    <section aria-labelledby="stages-heading">
      <h3 id="stages-heading">Where the time goes</h3>
      <p>
        {bottleneck ? (
          <>
            Limited by <strong>{bottleneck}</strong> ({Math.round(((stages[bottleneck] ?? 0) * 100) / total)}% of the data movers' busy
            time).
          </>
        ) : null}
      </p>
      <ul className="stages">
        {Object.entries(stages)
          .sort((a, b) => b[1] - a[1])
          .map(([stage, seconds]) => (
            <li key={stage}>
              <span className="stage-name">
                {stage}
                {stageNotes[stage] && <span className="muted stage-note">{stageNotes[stage]}</span>}
              </span>
              <meter min={0} max={total} value={seconds} aria-label={`${stage}: ${seconds.toFixed(1)} s`} />
              <span className="muted">{seconds.toFixed(1)} s</span>
            </li>
          ))}
      </ul>
    </section>
  );
}

/** The data movers that carried each disk; a reassignment shows the mover that lost it, then the one that finished it. */
function CarriedBy({ job }: { job: Job }) {
  const disks = carriedBy(job.result);
  if (disks.length === 0) return null;
  return (
    <section aria-labelledby="carried-by-heading">
      <h3 id="carried-by-heading">Data movers</h3>
      <ul className="plain">
        {disks.map(({ disk, movers }) => (
          <li key={disk}>
            Disk {disk} carried by {movers.join(' → ')}
          </li>
        ))}
      </ul>
    </section>
  );
}

function JobDetail({ jobId }: { jobId: string }) {
  const detail = useJobDetail(jobId);
  const live = useConsole((state) => state.progress[jobId]);
  const selectJob = useConsole((state) => state.selectJob);
  // Live samples since the panel opened, added to the recorded ones for the plot.
  const liveSamples = useRef<JobSample[]>([]);
  const [, redraw] = useState(0);
  useEffect(() => {
    liveSamples.current = [];
  }, [jobId]);
  useEffect(() => {
    if (!live) return;
    liveSamples.current = [...liveSamples.current, { at: live.at, bytesDone: live.bytesDone }].slice(-LIVE_SAMPLES);
    redraw((count) => count + 1);
  }, [live]);
  const shown = detail.data?.job;
  const now = useNow(shown !== undefined && !finishedJobStates.has(shown.state));
  if (detail.isPending)
    return (
      <aside className="job-detail" aria-label="Job detail">
        <p role="status">Loading the job…</p>
      </aside>
    );
  if (detail.isError)
    return (
      <aside className="job-detail" aria-label="Job detail">
        <p role="alert">{detail.error.message}</p>
      </aside>
    );
  const { job, events, samples } = detail.data;
  const startedMs = job.startedAt ? Date.parse(job.startedAt) : null;
  const endedMs = job.endedAt ? Date.parse(job.endedAt) : null;
  const recordedUntil = samples.at(-1)?.at ?? 0;
  const plotted = [...samples, ...liveSamples.current.filter((sample) => sample.at > recordedUntil)];
  const stages = live?.stages ?? (job.result?.stages as Record<string, number> | undefined) ?? {};
  const bottleneck = live?.bottleneck ?? (job.result?.bottleneck as string | undefined);
  const tapes =
    (job.result?.tapes as { barcode: string; loads: number; passes: number; starvedEvents: number; bytesRead: number }[] | undefined) ?? [];
  return (
    <aside className="job-detail" aria-labelledby="job-detail-heading">
      <div className="job-head">
        <h3 id="job-detail-heading">
          {job.vmName}: {job.state}
        </h3>
        <button onClick={() => selectJob(null)}>Close details</button>
      </div>
      <p>{job.summary}</p>
      <dl className="review">
        <dt>Asked for by</dt>
        <dd>{job.requestedBy ?? '—'}</dd>
        <dt>Queued</dt>
        <dd>{formatTime(job.createdAt)}</dd>
        <dt>Started</dt>
        <dd>{job.startedAt ? formatTime(job.startedAt) : '—'}</dd>
        <dt>Ended</dt>
        <dd>{job.endedAt ? formatTime(job.endedAt) : '—'}</dd>
        {job.startedAt && (
          <>
            <dt>Took</dt>
            <dd>{formatSeconds(((endedMs ?? now) - (startedMs ?? now)) / 1000)}</dd>
          </>
        )}
      </dl>
      <JobActions job={job} />
      {job.state === 'waiting-for-operator' && job.waitingFor === 'approval' && <ApprovalBox job={job} />}
      {job.error && (
        <p role="alert" className="error">
          {job.error}
        </p>
      )}
      <h3>Steps</h3>
      <ol className="steps vertical">
        {job.steps.map((step) => (
          <li key={step.name} className={`step-${step.state}`}>
            {step.title} <span className="muted">({step.state})</span>
          </li>
        ))}
      </ol>
      <CarriedBy job={job} />
      <StageBars stages={stages} bottleneck={bottleneck} />
      {startedMs !== null && (
        <ThroughputPlot samples={plotted} window={{ startMs: startedMs, endMs: endedMs ?? Math.max(now, plotted.at(-1)?.at ?? now) }} />
      )}
      {tapes.length > 0 && (
        <table className="grid">
          <caption>Tapes read</caption>
          <thead>
            <tr>
              <th>Barcode</th>
              <th>Loads</th>
              <th>Passes</th>
              <th>Drive-starved</th>
              <th>Read</th>
            </tr>
          </thead>
          <tbody>
            {tapes.map((tape) => (
              <tr key={tape.barcode}>
                <td>{tape.barcode}</td>
                <td>{tape.loads}</td>
                <td>{tape.passes}</td>
                <td>{tape.starvedEvents}</td>
                <td>{formatBytes(tape.bytesRead)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Log</h3>
      {/* It scrolls on its own: focusable, so a keyboard can scroll it too. */}
      <ol className="log" aria-label="Job log" tabIndex={0}>
        {events.map((event, index) => (
          <li key={index} className={`log-${event.level}`}>
            <span className="muted">{formatTime(event.at)}</span> {event.step && <span className="muted">[{event.step}]</span>}{' '}
            {event.message}
          </li>
        ))}
      </ol>
    </aside>
  );
}

type StateFilter = 'all' | 'active' | Job['state'];

function matches(job: Job, state: StateFilter, kind: string, vm: string): boolean {
  if (state === 'active' && finishedJobStates.has(job.state)) return false;
  if (state !== 'all' && state !== 'active' && job.state !== state) return false;
  if (kind !== 'all' && job.kind !== kind) return false;
  return vm === '' || job.vmName.toLowerCase().includes(vm.toLowerCase());
}

export function JobQueue() {
  const jobs = useJobs();
  const selected = useConsole((state) => state.selectedJob);
  const [state, setState] = useState<StateFilter>('all');
  const [kind, setKind] = useState('all');
  const [vm, setVm] = useState('');
  const filtered = useMemo(() => (jobs.data ?? []).filter((job) => matches(job, state, kind, vm)), [jobs.data, state, kind, vm]);
  if (jobs.isPending) return <p role="status">Loading jobs…</p>;
  if (jobs.isError) return <p role="alert">Could not load jobs: {jobs.error.message}</p>;
  if (jobs.data.length === 0) return <p className="empty">No jobs yet.</p>;
  const waiting = jobs.data.filter((job) => job.state === 'waiting-for-operator').length;
  return (
    <section aria-labelledby="jobs-heading">
      <h2 id="jobs-heading">Jobs</h2>
      <div className="filters" role="search" aria-label="Filter jobs">
        <label htmlFor="filter-state">State</label>
        <select id="filter-state" value={state} onChange={(event) => setState(event.target.value as StateFilter)}>
          <option value="all">All</option>
          <option value="active">Not ended</option>
          {jobStates.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        <label htmlFor="filter-kind">Kind</label>
        <select id="filter-kind" value={kind} onChange={(event) => setKind(event.target.value)}>
          <option value="all">All</option>
          {JobKind.options.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        <label htmlFor="filter-vm">VM</label>
        <input id="filter-vm" type="search" value={vm} onChange={(event) => setVm(event.target.value)} />
        <span className="muted" role="status">
          {filtered.length} of {jobs.data.length} jobs
          {waiting > 0 && (
            <>
              {' '}
              · <strong>{waiting} need you</strong>
            </>
          )}
        </span>
      </div>
      <div className={selected ? 'queue with-detail' : 'queue'}>
        <VirtualList
          role="list"
          items={filtered}
          rowHeight={ROW_HEIGHT}
          height={640}
          label="Job queue"
          render={(job) => <JobRow job={job} selected={job.id === selected} />}
        />
        {selected && <JobDetail jobId={selected} />}
      </div>
    </section>
  );
}
