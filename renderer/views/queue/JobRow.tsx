// One job in two compact lines: the VM, the job's kind and what it does; then its state in colour
// and what it is at (progress and time left, its place in the queue, what it needs, its error).
import { Button, Checkbox, Flex, FlexItem, Progress, ProgressMeasureLocation, ProgressSize } from '@patternfly/react-core';
import type { Job, JobProgress } from '../../../shared/domain.ts';
import { formatBytes, formatSeconds } from '../../../shared/format.ts';
import { useConsole } from '../../store.ts';
import { kindName } from '../common/kind-names.ts';
import { StateLabel } from '../common/StateLabel.tsx';
import { formatTime } from '../time.ts';
import { placeText } from './queue-place.ts';

export const ROW_HEIGHT = 60;

function percentOf(job: Job, done: number, total: number): number {
  return total > 0 ? Math.min(100, Math.floor((done * 100) / total)) : job.state === 'succeeded' ? 100 : 0;
}

/** The second line's words after the state label. */
function statusOf(job: Job, live: JobProgress | undefined): string {
  if (job.state === 'queued') return job.queue ? placeText(job.queue) : 'queued';
  if (job.state === 'waiting-for-operator') return `needs you: ${job.waitingFor ?? ''}`;
  if (job.error) return job.error;
  const done = live?.bytesDone ?? job.bytesDone;
  const total = live?.bytesTotal ?? job.bytesTotal;
  const figures = total > 0 ? `${formatBytes(done)} of ${formatBytes(total)}` : '';
  if (job.state !== 'running' || !live || live.bytesPerSecond <= 0) return figures;
  const left = live.etaSeconds !== null ? ` · ${formatSeconds(live.etaSeconds)} left` : '';
  return `${figures} · ${formatBytes(live.bytesPerSecond)}/s${left}${live.bottleneck ? ` · limited by ${live.bottleneck}` : ''}`;
}

export function JobRow({ job, selected, checked, onCheck }: { job: Job; selected: boolean; checked: boolean; onCheck(on: boolean): void }) {
  const live = useConsole((state) => state.progress[job.id]);
  const selectJob = useConsole((state) => state.selectJob);
  const percent = percentOf(job, live?.bytesDone ?? job.bytesDone, live?.bytesTotal ?? job.bytesTotal);
  const busy = job.state === 'running';
  return (
    <div
      className={`job${selected ? ' pf-v6-u-background-color-200' : ''} pf-v6-u-px-sm pf-v6-u-py-xs`}
      data-job-id={job.id}
      data-state={job.state}
      style={{ height: ROW_HEIGHT, boxSizing: 'border-box', borderBottom: '1px solid var(--pf-t--global--border--color--default)' }}
    >
      <Flex flexWrap={{ default: 'nowrap' }} alignItems={{ default: 'alignItemsCenter' }} spaceItems={{ default: 'spaceItemsSm' }}>
        <FlexItem>
          <Checkbox
            id={`pick-${job.id}`}
            aria-label={`Select ${job.vmName}: ${job.summary}`}
            isChecked={checked}
            onChange={(_event, on) => onCheck(on)}
          />
        </FlexItem>
        <FlexItem flex={{ default: 'flex_1' }} style={{ minWidth: 0 }}>
          <div className="pf-v6-u-text-truncate">
            <Button
              variant="link"
              isInline
              onClick={() => selectJob(job.id)}
              aria-pressed={selected}
              aria-label={`Details of ${job.vmName}: ${job.summary}`}
            >
              <strong>{job.vmName}</strong>
            </Button>{' '}
            {kindName(job.kind)} · <span className="pf-v6-u-color-200">{job.summary}</span>
          </div>
          <Flex flexWrap={{ default: 'nowrap' }} spaceItems={{ default: 'spaceItemsSm' }} alignItems={{ default: 'alignItemsCenter' }}>
            <StateLabel state={job.state} />
            {busy && (
              <Progress
                value={percent}
                size={ProgressSize.sm}
                measureLocation={ProgressMeasureLocation.outside}
                aria-label={`Progress of ${job.vmName}`}
                style={{ width: '9rem' }}
              />
            )}
            <span className={`pf-v6-u-text-truncate pf-v6-u-font-size-sm${job.state === 'failed' ? ' pf-v6-u-danger-color-100' : ''}`}>
              {statusOf(job, live)}
            </span>
            <span className="pf-v6-u-font-size-sm pf-v6-u-color-200 pf-v6-u-ml-auto">{formatTime(job.createdAt)}</span>
          </Flex>
        </FlexItem>
      </Flex>
    </div>
  );
}
