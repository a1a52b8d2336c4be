// Jobs running now, each with its progress (live figures when they arrive) and time left.
import { Button, Progress, ProgressSize, Stack } from '@patternfly/react-core';
import { formatBytes, formatSeconds } from '../../../shared/format.ts';
import type { Job } from '../../../shared/domain.ts';
import { useJobs } from '../../api/queries.ts';
import { useConsole } from '../../store.ts';
import { kindName } from '../common/kind-names.ts';
import { HomeCard, Nothing } from './HomeCard.tsx';

function RunningJob({ job }: { job: Job }) {
  const live = useConsole((state) => state.progress[job.id]);
  const openJob = useConsole((state) => state.openJob);
  const done = live?.bytesDone ?? job.bytesDone;
  const total = live?.bytesTotal ?? job.bytesTotal;
  const left = live?.etaSeconds ?? null;
  return (
    <Stack>
      <Progress
        title={`${kindName(job.kind)}: ${job.vmName}`}
        value={total > 0 ? (100 * done) / total : 0}
        size={ProgressSize.sm}
        label={`${formatBytes(done)} of ${formatBytes(total)}${left === null ? '' : `, ${formatSeconds(left)} left`}`}
      />
      <span>
        <Button variant="link" isInline onClick={() => openJob(job.id)}>
          Open job {job.vmName}
        </Button>
      </span>
    </Stack>
  );
}

export function RunningJobs() {
  const jobs = useJobs();
  const running = jobs.data?.filter((job) => job.state === 'running') ?? [];
  const queued = jobs.data?.filter((job) => job.state === 'queued').length ?? 0;
  return (
    <HomeCard title="Running jobs" view="jobs" goTo="Go to the job queue">
      {jobs.isPending ? (
        <Nothing>Loading the jobs…</Nothing>
      ) : running.length === 0 ? (
        <Nothing>No job is running.{queued > 0 && ` ${queued} queued.`}</Nothing>
      ) : (
        <Stack hasGutter>
          {running.map((job) => (
            <RunningJob key={job.id} job={job} />
          ))}
          {queued > 0 && <Nothing>{queued} more queued.</Nothing>}
        </Stack>
      )}
    </HomeCard>
  );
}
