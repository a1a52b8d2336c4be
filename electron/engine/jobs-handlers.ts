// The job channels: listing jobs, one job with its log and samples, cancelling one or many, and the
// four-eyes approval of a held one. (Resume and discard are the restore service's.)
import type { Job } from '../../shared/domain.ts';
import type { Caller } from '../../shared/accounts.ts';
import { holdsRole, identityLabel, personOf } from '../auth/roles.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { LifeboatError } from '../errors.ts';
import { withoutSecrets } from '../keys/without-secrets.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';

/** Four-eyes: a second person lets a held job run. The approver must have signed in (the
 * engine's OS user is whoever runs it, maybe the requester), hold the approver role, and not be
 * the account that asked for the job, whichever way either of them signed in. */
function approveJob(catalog: Catalog, jobs: JobQueue, jobId: string, caller: Caller): Job {
  const job = catalog.getJob(jobId);
  if (!job) throw new LifeboatError('not-found', `job ${jobId} does not exist`);
  const approver = identityLabel(caller);
  if (caller.via === 'os')
    throw new LifeboatError(
      'unauthorized',
      `an approval needs a signed-in account, not the engine's OS user (${approver}); \`lifeboat login\` first`,
    );
  if (!holdsRole(caller, 'approver'))
    throw new LifeboatError('unauthorized', `${approver} has the ${caller.role} role; approving needs the approver role`);
  if (job.requestedBy !== null && personOf(job.requestedBy) === personOf(approver)) {
    throw new LifeboatError('conflict', `${approver} asked for this restore; a second person must approve it`);
  }
  const released = jobs.release(jobId, 'approval');
  catalog.audit(approver, 'jobs.approve', jobId, { requestedBy: job.requestedBy, approverRole: caller.role });
  catalog.addJobEvent(jobId, {
    at: new Date().toISOString(),
    level: 'info',
    step: null,
    message: `approved by ${approver} (asked for by ${job.requestedBy ?? 'unknown'})`,
  });
  return released;
}

/** A job's stored request for the console (Edit and retry). Stored params are already kept without
 * secrets; this guards rows written before that rule, so a password never leaves the engine. */
function shownParams(params: unknown): unknown {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return params ?? null;
  return withoutSecrets(params as { password?: string; recoveryKey?: string });
}

type JobReadChannel = 'jobs.list' | 'jobs.get';
type JobChannel = JobReadChannel | 'jobs.cancel' | 'jobs.cancelMany' | 'jobs.approve';

/** The jobs as the catalog holds them; `placed` gives each queued one its place in the live
 * queue (JobQueue.placed). A home opened read-only has no queued job to place. */
export function jobReadHandlers(catalog: Catalog, placed: (jobs: Job[]) => Job[]): ChannelHandlers<JobReadChannel> {
  return {
    'jobs.list': async () => placed(catalog.listJobs()),
    'jobs.get': async ({ jobId }) => {
      const job = catalog.getJob(jobId);
      if (!job) throw new LifeboatError('not-found', `job ${jobId} does not exist`);
      return {
        job: placed([job])[0] ?? job,
        events: catalog.jobEvents(jobId),
        samples: catalog.jobSamples(jobId),
        params: shownParams(catalog.jobParams(jobId)),
      };
    },
  };
}

export function jobsHandlers(catalog: Catalog, jobs: JobQueue): ChannelHandlers<JobChannel> {
  return {
    ...jobReadHandlers(catalog, (listed) => jobs.placed(listed)),
    'jobs.cancel': async ({ jobId }) => ({ job: jobs.cancel(jobId) }),
    'jobs.cancelMany': async ({ jobIds }) => jobs.cancelMany(jobIds),
    'jobs.approve': async ({ jobId }, { caller }) => ({ job: approveJob(catalog, jobs, jobId, caller) }),
  };
}
