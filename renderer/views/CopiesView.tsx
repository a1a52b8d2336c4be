// Copies and regions: the repositories and where they are, the copy policy, and per VM each
// point's copies (checked on disk) against the policy, with a copy job to close the gap.
import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { CopyPolicy } from '../../shared/domain.ts';
import { useApi, useCopyStatus, useRepos, useSettings } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';
import { TierBadges } from './TierBadges.tsx';

const policies: { value: CopyPolicy; label: string }[] = [
  { value: 'none', label: 'None: the primary repository only' },
  { value: 'lrs', label: 'LRS: three copies in the primary region' },
  { value: 'zrs', label: 'ZRS: three copies in separate zones of the primary region' },
  { value: 'grs', label: 'GRS: LRS plus a copy in the paired secondary region' },
];

function PolicyForm({ current }: { current: CopyPolicy }) {
  const api = useApi();
  const queries = useQueryClient();
  const [policy, setPolicy] = useState<CopyPolicy>(current);
  const [error, setError] = useState<string | null>(null);
  const save = (event: FormEvent): void => {
    event.preventDefault();
    setError(null);
    api.invoke('settings.set', { copyPolicy: policy }).then(
      () => {
        void queries.invalidateQueries({ queryKey: ['settings'] });
        void queries.invalidateQueries({ queryKey: ['copy-status'] });
      },
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <form onSubmit={save} aria-label="Copy policy" className="policy-form">
      <fieldset>
        <legend>Copy policy</legend>
        {policies.map((option) => (
          <label key={option.value} className="choice">
            <input type="radio" name="policy" checked={policy === option.value} onChange={() => setPolicy(option.value)} /> {option.label}
          </label>
        ))}
        <button type="submit" disabled={policy === current}>
          Set policy
        </button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </fieldset>
    </form>
  );
}

export function CopiesView() {
  const api = useApi();
  const openJob = useConsole((state) => state.openJob);
  const repos = useRepos();
  const settings = useSettings();
  const status = useCopyStatus();
  const [error, setError] = useState<string | null>(null);
  const run = (): void => {
    setError(null);
    api.invoke('copies.run', {}).then(
      ({ job }) => openJob(job.id),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <div className="split">
      <section aria-labelledby="copies-heading">
        <h2 id="copies-heading">Copies per VM</h2>
        {status.isPending ? (
          <p role="status">Checking the copies…</p>
        ) : status.isError ? (
          <p role="alert">{status.error.message}</p>
        ) : (
          <>
            <p>
              Policy <strong>{status.data.policy.toUpperCase()}</strong>
              {status.data.problem ? <span className="error"> — cannot be met: {status.data.problem}</span> : null}{' '}
              <button onClick={run} disabled={status.data.policy === 'none' || status.data.problem !== null}>
                Run a copy job
              </button>
            </p>
            {error && (
              <p role="alert" className="error">
                {error}
              </p>
            )}
            {status.data.vms.map((vm) => (
              <table key={vm.vmId} className="grid">
                <caption>{vm.vmName}</caption>
                <thead>
                  <tr>
                    <th>Point</th>
                    <th>Taken</th>
                    <th>Policy</th>
                    <th>Copies, fastest first</th>
                  </tr>
                </thead>
                <tbody>
                  {vm.points.map((point) => (
                    <tr key={point.pointId}>
                      <td>#{point.sequence}</td>
                      <td>{formatTime(point.createdAt)}</td>
                      <td className={point.meetsPolicy ? 'policy-met' : 'policy-lacking'}>
                        {point.meetsPolicy ? 'met' : `lacks ${point.lacking.join(' and ')}`}
                      </td>
                      <td>
                        <TierBadges copies={point.copies} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ))}
          </>
        )}
      </section>
      <section aria-labelledby="repos-heading">
        <h2 id="repos-heading">Repositories</h2>
        {repos.data && (
          <table className="grid">
            <thead>
              <tr>
                <th>Name</th>
                <th>Role</th>
                <th>Region / zone</th>
              </tr>
            </thead>
            <tbody>
              {repos.data.map((site) => (
                <tr key={site.id}>
                  <td title={site.path}>{site.name}</td>
                  <td>{site.role}</td>
                  <td>
                    {site.region} / {site.zone}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p className="muted">
          Add a copy repository with <code>lifeboat repos add NAME --path DIR --region R --zone Z</code>.
        </p>
        {settings.data && <PolicyForm key={settings.data.copyPolicy} current={settings.data.copyPolicy} />}
      </section>
    </div>
  );
}
