// Jobs that failed or were interrupted in the last 24 hours, newest first, with their error.
import { DataList } from '@patternfly/react-core';
import type { Job } from '../../../shared/domain.ts';
import { useJobs } from '../../api/queries.ts';
import { StateLabel } from '../common/StateLabel.tsx';
import { formatTime } from '../time.ts';
import { HomeCard, Nothing } from './HomeCard.tsx';
import { JobLine } from './JobLine.tsx';

const DAY_MS = 24 * 3600 * 1000;

function failedToday(job: Job, now: number): boolean {
  return (job.state === 'failed' || job.state === 'interrupted') && now - Date.parse(job.endedAt ?? job.createdAt) < DAY_MS;
}

const endOf = (job: Job): string => job.endedAt ?? job.createdAt;

export function RecentFailures() {
  const jobs = useJobs();
  const now = Date.now();
  const failed = (jobs.data?.filter((job) => failedToday(job, now)) ?? []).sort((a, b) => endOf(b).localeCompare(endOf(a)));
  return (
    <HomeCard title="Failures of the last 24 hours" view="jobs" goTo="Go to the job queue">
      {jobs.isPending ? (
        <Nothing>Loading the jobs…</Nothing>
      ) : failed.length === 0 ? (
        <Nothing>No job failed in the last 24 hours.</Nothing>
      ) : (
        <DataList aria-label="Failures of the last 24 hours" isCompact>
          {failed.map((job) => (
            <JobLine
              key={job.id}
              job={job}
              before={
                <>
                  <StateLabel state={job.state} />{' '}
                </>
              }
              after={<span className="pf-v6-u-text-color-subtle"> {formatTime(endOf(job))}</span>}
            >
              {job.error && <span>{job.error}</span>}
            </JobLine>
          ))}
        </DataList>
      )}
    </HomeCard>
  );
}
