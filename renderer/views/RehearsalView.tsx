// Restore rehearsal: pick VMs and an isolated target, start; then the history of rehearsals with
// each VM's result and measured RTO, and the report to hand to an auditor.
import { useState, type FormEvent } from 'react';
import type { Job } from '../../shared/domain.ts';
import { useApi, useHosts, useJobs, useVms } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';
import { toggled } from './toggled.ts';

type Outcome = { vm: string; point: number; state: 'passed' | 'failed'; check: string; rtoSeconds: number | null; error: string | null };

function ReportLink({ job }: { job: Job }) {
  const api = useApi();
  const [href, setHref] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (typeof job.result?.report !== 'string') return <span className="muted">no report</span>;
  if (href)
    return (
      <a href={href} download={`lifeboat-rehearsal-${job.id.slice(0, 8)}.html`}>
        Download the report
      </a>
    );
  const load = (): void => {
    api.invoke('rehearsal.report', { jobId: job.id }).then(
      ({ html }) => setHref(`data:text/html;charset=utf-8,${encodeURIComponent(html)}`),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <>
      <button onClick={load}>Prepare the report of {formatTime(job.createdAt)}</button>
      {error && (
        <span role="alert" className="error">
          {' '}
          {error}
        </span>
      )}
    </>
  );
}

function History() {
  const jobs = useJobs();
  const rehearsals = (jobs.data ?? []).filter((job) => job.kind === 'rehearsal');
  if (rehearsals.length === 0) return <p className="empty">No rehearsals yet.</p>;
  return (
    <table className="grid">
      <caption>Past rehearsals</caption>
      <thead>
        <tr>
          <th>Started</th>
          <th>State</th>
          <th>VM</th>
          <th>Result</th>
          <th>RTO</th>
          <th>Report</th>
        </tr>
      </thead>
      <tbody>
        {rehearsals.flatMap((job) => {
          const outcomes = (job.result?.vms as Outcome[] | undefined) ?? [];
          return (outcomes.length > 0 ? outcomes : [null]).map((outcome, index) => (
            <tr key={`${job.id}-${index}`} data-rehearsal={job.id}>
              <td>{index === 0 ? formatTime(job.createdAt) : ''}</td>
              <td>{index === 0 ? job.state : ''}</td>
              <td>{outcome?.vm ?? '—'}</td>
              <td>{outcome ? (outcome.state === 'passed' ? `passed: ${outcome.check}` : `failed: ${outcome.error ?? ''}`) : ''}</td>
              <td>{outcome?.rtoSeconds != null ? `${outcome.rtoSeconds} s` : '—'}</td>
              <td>{index === 0 && <ReportLink job={job} />}</td>
            </tr>
          ));
        })}
      </tbody>
    </table>
  );
}

export function RehearsalView() {
  const api = useApi();
  const vms = useVms();
  const hosts = useHosts();
  const openJob = useConsole((state) => state.openJob);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [where, setWhere] = useState<'local' | 'vsphere'>('local');
  const [path, setPath] = useState('');
  const [host, setHost] = useState('');
  const [network, setNetwork] = useState('');
  const [keep, setKeep] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const toggle = (id: string): void => setPicked(toggled(picked, id));
  const start = (event: FormEvent): void => {
    event.preventDefault();
    const target =
      where === 'local'
        ? { kind: 'local' as const, path }
        : { kind: 'vsphere' as const, host, ...(network.trim() ? { network: network.trim() } : {}) };
    api.invoke('rehearsal.start', { vms: [...picked], point: 'latest', target, keep }).then(
      ({ job }) => openJob(job.id),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <div className="tape">
      <section aria-labelledby="rehearsal-heading" className="wizard">
        <h2 id="rehearsal-heading">Restore rehearsal</h2>
        <p className="muted">
          Restores the VMs in parallel to an isolated place, checks each one, and measures how long each took to be back and good (its RTO).
        </p>
        <form onSubmit={start}>
          <fieldset>
            <legend>VMs (latest restore point)</legend>
            {(vms.data ?? []).map((vm) => (
              <div key={vm.id} className="field">
                <input type="checkbox" id={`rehearse-${vm.id}`} checked={picked.has(vm.id)} onChange={() => toggle(vm.id)} />{' '}
                <label htmlFor={`rehearse-${vm.id}`} style={{ display: 'inline' }}>
                  {vm.name}
                </label>
              </div>
            ))}
          </fieldset>
          <fieldset>
            <legend>Isolated target</legend>
            <div className="field">
              <input type="radio" id="rehearse-local" name="where" checked={where === 'local'} onChange={() => setWhere('local')} />{' '}
              <label htmlFor="rehearse-local" style={{ display: 'inline' }}>
                A local folder (copies checked block by block)
              </label>
            </div>
            <div className="field">
              <input
                type="radio"
                id="rehearse-vsphere"
                name="where"
                checked={where === 'vsphere'}
                onChange={() => setWhere('vsphere')}
                disabled={(hosts.data ?? []).length === 0}
              />{' '}
              <label htmlFor="rehearse-vsphere" style={{ display: 'inline' }}>
                A vSphere host (VMs checked by powering on)
              </label>
            </div>
            {where === 'local' ? (
              <label>
                Folder
                <input value={path} onChange={(event) => setPath(event.target.value)} required placeholder="/srv/rehearsal" />
              </label>
            ) : (
              <>
                <label htmlFor="rehearse-host">Host</label>
                <select id="rehearse-host" value={host} onChange={(event) => setHost(event.target.value)} required>
                  <option value="">Choose…</option>
                  {(hosts.data ?? []).map((entry) => (
                    <option key={entry.id} value={entry.name}>
                      {entry.name}
                    </option>
                  ))}
                </select>
                <label>
                  Isolated network (port group)
                  <input
                    value={network}
                    onChange={(event) => setNetwork(event.target.value)}
                    placeholder="leave empty to keep the backed-up mapping"
                  />
                </label>
              </>
            )}
            <div className="field">
              <input type="checkbox" id="rehearse-keep" checked={keep} onChange={(event) => setKeep(event.target.checked)} />{' '}
              <label htmlFor="rehearse-keep" style={{ display: 'inline' }}>
                Keep the rehearsal VMs afterwards
              </label>
            </div>
          </fieldset>
          <div className="actions">
            <button type="submit" disabled={picked.size === 0 || (where === 'local' ? !path.trim() : !host)}>
              Start the rehearsal of {picked.size} VM(s)
            </button>
          </div>
        </form>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </section>
      <section aria-labelledby="rehearsal-history-heading">
        <h2 id="rehearsal-history-heading">History</h2>
        <History />
      </section>
    </div>
  );
}
