// The notices a batch of job updates makes: a short job that was queued and ended within one batch
// still says it ended (the console lost that notice before), an old job updated says nothing, and
// many endings at once make one notice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Job } from '../../shared/domain.ts';
import { batchNotices } from '../../renderer/api/job-notices.ts';
import { newJobRecord } from '../../electron/jobs/job-record.ts';

function job(id: string, state: Job['state'], change: Partial<Job> = {}): Job {
  return newJobRecord({ id, kind: 'backup', state, vmName: 'web', summary: `Back up web (${id})`, ...change });
}

const byId = (...jobs: Job[]): Map<string, Job> => new Map(jobs.map((entry) => [entry.id, entry]));
const none = byId();

test('a job queued and ended within one batch still gets its notice; one seen only ended gets none', () => {
  const short = job('j1', 'succeeded');
  assert.deepEqual(batchNotices(none, byId(job('j1', 'queued')), byId(short)), [
    { tone: 'info', text: 'Done: Back up web (j1)', jobId: 'j1' },
  ]);
  assert.deepEqual(batchNotices(none, byId(short), byId(short)), [], 'an old job updated is not news of an ending');
  const failed = job('j2', 'failed', { error: 'the target is full' });
  assert.deepEqual(batchNotices(none, byId(job('j2', 'running')), byId(failed)), [
    { tone: 'bad', text: 'Failed: Back up web (j2): the target is full', jobId: 'j2' },
  ]);
});

test('what the console had before the batch is what the job is compared with', () => {
  const running = job('j1', 'running');
  assert.deepEqual(batchNotices(byId(running), byId(running), byId(running)), [], 'no change, no notice');
  assert.deepEqual(batchNotices(byId(running), byId(job('j1', 'succeeded')), byId(job('j1', 'succeeded'))), [
    { tone: 'info', text: 'Done: Back up web (j1)', jobId: 'j1' },
  ]);
  const waiting = job('j3', 'waiting-for-operator', { waitingFor: 'tape LB0001L9' });
  assert.deepEqual(batchNotices(none, byId(waiting), byId(waiting)), [
    { tone: 'attention', text: 'web needs you: insert tape LB0001L9', jobId: 'j3' },
  ]);
});

test('more than three endings in one batch make one notice, and attention notices stay', () => {
  const ids = ['a', 'b', 'c', 'd'];
  const first = byId(...ids.map((id) => job(id, 'running')), job('w', 'running'));
  const latest = byId(
    ...ids.map((id, index) => job(id, index === 0 ? 'failed' : 'succeeded')),
    job('w', 'waiting-for-operator', { waitingFor: 'approval' }),
  );
  assert.deepEqual(batchNotices(none, first, latest), [
    { tone: 'attention', text: 'web needs you: a second operator must approve', jobId: 'w' },
    { tone: 'bad', text: '4 jobs ended: 1 failed', jobId: null },
  ]);
});
