// What the operator hears of a batch of job updates: a job that needs them, a job that ended. Pure,
// so the rules are tested without a browser.
import type { Job } from '../../shared/domain.ts';
import type { Notice } from '../store.ts';

/** More jobs than this ending in one batch make one notice, not a flood. */
const MAX_ENDED_NOTICES = 3;

/** What an operator should hear about a job that changed state. */
function noticeFor(previous: Job | undefined, job: Job): Omit<Notice, 'id' | 'jobId'> | null {
  if (previous?.state === job.state) return null;
  if (job.state === 'waiting-for-operator')
    return {
      tone: 'attention',
      text: `${job.vmName} needs you: ${job.waitingFor === 'approval' ? 'a second operator must approve' : `insert ${job.waitingFor ?? 'what it asks for'}`}`,
    };
  // A job never seen in another state: not news of an ending (an old job updated, say).
  if (previous === undefined) return null;
  if (job.state === 'succeeded') return { tone: 'info', text: `Done: ${job.summary}` };
  if (job.state === 'failed') return { tone: 'bad', text: `Failed: ${job.summary}: ${job.error ?? ''}` };
  return null;
}

/** The notices of one batch. `before`: the jobs as the console had them; `first` and `latest`: each
 * updated job's first and last update in the batch. A job both queued and ended within one batch
 * (a short one) is compared with its first update, so it still gets its notice. */
export function batchNotices(
  before: ReadonlyMap<string, Job>,
  first: ReadonlyMap<string, Job>,
  latest: ReadonlyMap<string, Job>,
): Omit<Notice, 'id'>[] {
  const notices = [...latest.values()].flatMap((job) => {
    const earlier = first.get(job.id);
    const notice = noticeFor(before.get(job.id) ?? (earlier?.state === job.state ? undefined : earlier), job);
    return notice ? [{ ...notice, jobId: job.id }] : [];
  });
  const ended = notices.filter((notice) => notice.tone !== 'attention');
  if (ended.length <= MAX_ENDED_NOTICES) return notices;
  return [
    ...notices.filter((notice) => notice.tone === 'attention'),
    {
      tone: ended.some((notice) => notice.tone === 'bad') ? 'bad' : 'info',
      text: `${ended.length} jobs ended: ${ended.filter((notice) => notice.tone === 'bad').length} failed`,
      jobId: null,
    },
  ];
}
