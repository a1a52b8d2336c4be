// The live job queue: state, step and progress of every job, with cancel.
import { useState, type FormEvent } from 'react';
import { formatBytes } from '../../shared/format.ts';
import type { Job } from '../../shared/domain.ts';
import { finishedJobStates } from '../../shared/domain.ts';
import { useApi, useJobs } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatDuration, formatTime } from './time.ts';

/** Four-eyes: a second operator names themself and approves. */
function ApprovalBox({ job }: { job: Job }) {
  const api = useApi();
  const [approver, setApprover] = useState('');
  const [error, setError] = useState<string | null>(null);
  const approve = (event: FormEvent): void => {
    event.preventDefault();
    api.invoke('jobs.approve', { jobId: job.id, operator: approver }).then(
      () => setError(null),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <form className="approval" onSubmit={approve}>
      <p>Awaiting approval: asked for by {job.requestedBy ?? 'an operator'}; a second operator must approve.</p>
      <label>
        Approver
        <input value={approver} onChange={(event) => setApprover(event.target.value)} required />
      </label>
      <button type="submit" disabled={!approver.trim()}>Approve</button>
      {error && <p role="alert" className="error">{error}</p>}
    </form>
  );
}

function JobRow({ job }: { job: Job }) {
  const api = useApi();
  const live = useConsole((state) => state.progress[job.id]);
  const done = live?.bytesDone ?? job.bytesDone;
  const total = live?.bytesTotal ?? job.bytesTotal;
  const percent = total > 0 ? Math.min(100, Math.floor((done * 100) / total)) : job.state === 'succeeded' ? 100 : 0;
  const running = job.state === 'running';
  return (
    <li className={`job state-${job.state}`} data-job-id={job.id} data-state={job.state}>
      <div className="job-head">
        <strong>{job.vmName}</strong> <span className="badge">{job.state}</span> <span className="muted">{job.kind}</span>
        <span className="muted"> · {formatTime(job.createdAt)}</span>
        {!finishedJobStates.has(job.state) && (
          <button className="cancel" onClick={() => void api.invoke('jobs.cancel', { jobId: job.id })} aria-label={`Cancel job for ${job.vmName}`}>Cancel</button>
        )}
        {job.state === 'interrupted' && job.kind === 'restore-entire-vm' && (
          <button className="cancel" onClick={() => void api.invoke('jobs.resume', { jobId: job.id })} aria-label={`Resume job for ${job.vmName}`}>Resume</button>
        )}
      </div>
      <div className="muted">{job.summary}</div>
      <progress max={100} value={percent} aria-label={`Progress of ${job.vmName}`}>{percent}%</progress>
      <div className="muted">
        {percent}% · {formatBytes(done)} of {formatBytes(total)}
        {running && live && live.bytesPerSecond > 0 && <> · {formatBytes(live.bytesPerSecond)}/s{live.etaSeconds !== null && <> · {formatDuration(live.etaSeconds)} left</>}</>}
      </div>
      <ol className="steps">
        {job.steps.map((step) => (
          <li key={step.name} className={`step-${step.state}`} title={step.title}>{step.name} <span className="muted">({step.state})</span></li>
        ))}
      </ol>
      {job.state === 'waiting-for-operator' && job.waitingFor === 'approval' && <ApprovalBox job={job} />}
      {job.error && <p role="alert" className="error">{job.error}</p>}
    </li>
  );
}

export function JobQueue() {
  const jobs = useJobs();
  if (jobs.isPending) return <p role="status">Loading jobs…</p>;
  if (jobs.isError) return <p role="alert">Could not load jobs: {jobs.error.message}</p>;
  if (jobs.data.length === 0) return <p className="empty">No jobs yet.</p>;
  return (
    <section aria-labelledby="jobs-heading">
      <h2 id="jobs-heading">Jobs</h2>
      <ul className="jobs">{jobs.data.map((job) => <JobRow key={job.id} job={job} />)}</ul>
    </section>
  );
}
