// Waiting for a job to end over any carrier of the contract (the CLI following a job, the demo
// lab waiting for its backups): the job's updates are heard first, then its state is read once,
// so an end that came before the listener was added is not missed.
import type { LifeboatApi } from './contract.ts';
import { finishedJobStates, type Job } from './domain.ts';

/** What waiting for a job needs of an API. */
export type JobWatcher = Pick<LifeboatApi, 'invoke' | 'on' | 'disconnection'>;

/** The job once it has ended. Should the engine go away first (a served one killed, the
 * command's own one stopped by a signal), rejects with `lost(reason)`: a job's end that will
 * never be heard is not waited for. */
export async function jobEnd(api: JobWatcher, jobId: string, lost: (reason: string) => Error): Promise<Job> {
  let offUpdates = (): void => undefined;
  const ended = new Promise<Job>((resolve, reject) => {
    offUpdates = api.on('job.updated', (update) => {
      if (update.id === jobId && finishedJobStates.has(update.state)) resolve(update);
    });
    api.invoke('jobs.get', { jobId }).then(({ job }) => {
      if (finishedJobStates.has(job.state)) resolve(job);
    }, reject);
  });
  const gone = api.disconnection
    ? api.disconnection.then((reason): never => {
        throw lost(reason);
      })
    : new Promise<never>(() => undefined);
  try {
    return await Promise.race([ended, gone]);
  } finally {
    offUpdates();
  }
}
