// The restores from the repository (or one of its copies): an entire VM to a local folder, to
// vSphere or back in its original location; its disks with a template; its disks to Azure; and
// the resume or discard of an interrupted restore. Each request is checked (target, source copy,
// password) before a job exists.
import type { AzureAccount, Job, LocalTarget, ProxySummary, VsphereTarget } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { VmLookup } from '../catalog/vm-lookup.ts';
import type { AzureAccounts } from '../azure/azure-accounts.ts';
import type { CopyService } from '../copies/copy-service.ts';
import { fromCopy, readingFrom } from '../copies/source-picker.ts';
import type { ChannelHandlers, Parsed } from '../handlers/handler-registry.ts';
import { LifeboatError } from '../errors.ts';
import type { EngineEvents } from '../jobs/events.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import type { JobWork } from '../jobs/job-work.ts';
import type { Repository } from '../repository/repository.ts';
import { withoutSecrets } from '../keys/key-service.ts';
import type { EntireVmLocalRestore, RestoreRequest } from './entire-vm-local.ts';
import type { RestoreAzureRequest, RestoreAzureWork } from './restore-azure.ts';
import type { RestoreDisksRequest, RestoreDisksWork } from './restore-disks.ts';
import type { TargetChecks } from './target-checks.ts';
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { RestoreChecker } from './restore-check.ts';
import { checkOriginalOptions } from './vsphere-preflight.ts';

/** A restore of one point to a target, as the entire-VM, tape, rehearsal and migration jobs ask for it. */
export type PointRestoreRequest = { vmId: string; pointId: string; target: LocalTarget | VsphereTarget; newName?: string | undefined };

/** The works the restore jobs run (electron/engine/job-works.ts builds them). */
export type RestoreWorks = {
  /** The restore of a point of `source` (the repository, or a staging one) to a target. */
  restore(source: Repository, jobId: string, request: PointRestoreRequest): JobWork;
  localRestore(source: Repository, jobId: string, request: RestoreRequest, resume: boolean): EntireVmLocalRestore;
  disks(source: Repository, jobId: string, request: RestoreDisksRequest): RestoreDisksWork;
  azure(source: Repository, jobId: string, request: RestoreAzureRequest, account: AzureAccount): RestoreAzureWork;
};

/** The restore to a local folder a job's record and parameters describe, or null (another kind). */
export function localRestoreOf(job: Job, params: unknown): (RestoreRequest & { fromRegion: string | undefined }) | null {
  const given = params as {
    pointId?: unknown;
    target?: { kind?: unknown; path?: unknown };
    newName?: unknown;
    fromRegion?: unknown;
  } | null;
  if (
    job.kind !== 'restore-entire-vm' ||
    given?.target?.kind !== 'local' ||
    typeof given.target.path !== 'string' ||
    typeof given.pointId !== 'string' ||
    job.vmId === null
  )
    return null;
  return {
    vmId: job.vmId,
    pointId: given.pointId,
    targetPath: given.target.path,
    newName: typeof given.newName === 'string' ? given.newName : undefined,
    fromRegion: typeof given.fromRegion === 'string' ? given.fromRegion : undefined,
  };
}

export type RestoreServiceDeps = {
  catalog: Catalog;
  events: EngineEvents;
  jobs: JobQueue;
  lookup: VmLookup;
  checks: TargetChecks;
  copies: CopyService;
  azure: AzureAccounts;
  works: RestoreWorks;
  connectHost: (name: string) => Promise<VsphereClient>;
  /** The proxies a restore to a host chooses from (restore.check checks a transport asked for by name). */
  restoreProxies?: (host: string) => ProxySummary[];
  /** Removes what an interrupted job left behind (the janitor, for that job); how many leftovers. */
  cleanLeftovers(jobId: string): Promise<number>;
};

export class RestoreService {
  private readonly deps: RestoreServiceDeps;
  /** The wizard's per-step checks: the pre-flight of the jobs below, answered as problems. */
  readonly checker: RestoreChecker;

  constructor(deps: RestoreServiceDeps) {
    this.deps = deps;
    this.checker = new RestoreChecker(deps);
  }

  async start(unchecked: Parsed<'restore.entireVm'>, actor: string): Promise<Job> {
    const { catalog, jobs, lookup, works } = this.deps;
    const request = await this.deps.checks.checkedLocalTarget(unchecked);
    const vm = lookup.resolveVm(request.vm);
    const pointId = lookup.resolvePointId(vm.id, request.point);
    const name = request.newName ?? vm.name;
    const { target } = request;
    if (target.kind === 'vsphere' && target.original && request.newName)
      throw new LifeboatError('bad-request', 'an original-location restore keeps the VM and its name; drop the new name');
    if (target.kind === 'vsphere') checkOriginalOptions(target);
    const held = this.deps.checks.checkTarget(target, vm.name);
    // The copy the restore reads, unlocked when encrypted: a wrong password fails here, before a job exists.
    const source = await this.deps.copies.sourceFor(vm, pointId, request);
    catalog.audit(actor, 'restore.entireVm', vm.id, {
      pointId,
      target,
      newName: request.newName ?? null,
      source: source.site.name,
      reason: request.reason ?? null,
    });
    const where = target.kind === 'local' ? target.path : `${target.host}${target.datastore ? ` [${target.datastore}]` : ''}`;
    const spec = {
      kind: 'restore-entire-vm' as const,
      vmId: vm.id,
      vmName: vm.name,
      summary: `Restore ${vm.name} as ${name} to ${where}${fromCopy(source)}`,
      params: { ...withoutSecrets(request), pointId },
      requestedBy: actor,
      reason: request.reason,
    };
    if (target.kind === 'local') {
      return jobs.submit(spec, (jobId) =>
        readingFrom(
          works.localRestore(source.repository, jobId, { vmId: vm.id, pointId, targetPath: target.path, newName: request.newName }, false),
          source,
        ),
      );
    }
    const summary = target.original ? `Roll ${vm.name} back in place on ${target.host}${fromCopy(source)}` : spec.summary;
    return jobs.submit({ ...spec, ...held, summary }, (jobId) =>
      readingFrom(works.restore(source.repository, jobId, { vmId: vm.id, pointId, target, newName: request.newName }), source),
    );
  }

  /** A point's disks without a VM, and a template (OVF or ARM) to create one from them. */
  async startDisks(unchecked: Parsed<'restore.disks'>, actor: string): Promise<Job> {
    const { catalog, jobs, lookup, works } = this.deps;
    const request = await this.deps.checks.checkedLocalTarget(unchecked);
    const vm = lookup.resolveVm(request.vm);
    const pointId = lookup.resolvePointId(vm.id, request.point);
    const source = await this.deps.copies.sourceFor(vm, pointId, request);
    catalog.audit(actor, 'restore.disks', vm.id, {
      pointId,
      target: request.target.path,
      template: request.template,
      source: source.site.name,
      reason: request.reason ?? null,
    });
    return jobs.submit(
      {
        kind: 'restore-disks',
        vmId: vm.id,
        vmName: vm.name,
        summary: `Restore the disks of ${vm.name} with an ${request.template.toUpperCase()} template to ${request.target.path}${fromCopy(source)}`,
        params: { ...withoutSecrets(request), pointId },
        requestedBy: actor,
        reason: request.reason,
      },
      (jobId) =>
        readingFrom(
          works.disks(source.repository, jobId, { vmId: vm.id, pointId, targetPath: request.target.path, template: request.template }),
          source,
        ),
    );
  }

  /** A point's disks as page blobs in an Azure Storage container, with an ARM template. */
  async startAzure(request: Parsed<'restore.azure'>, actor: string): Promise<Job> {
    const { catalog, jobs, lookup, works } = this.deps;
    const vm = lookup.resolveVm(request.vm);
    const pointId = lookup.resolvePointId(vm.id, request.point);
    const account = this.deps.azure.named(request.account);
    const source = await this.deps.copies.sourceFor(vm, pointId, request);
    catalog.audit(actor, 'restore.azure', vm.id, {
      pointId,
      account: account.name,
      container: request.container,
      source: source.site.name,
      reason: request.reason ?? null,
    });
    return jobs.submit(
      {
        kind: 'restore-azure',
        vmId: vm.id,
        vmName: vm.name,
        summary: `Restore the disks of ${vm.name} to Azure ${account.name}/${request.container}${fromCopy(source)}`,
        params: { ...withoutSecrets(request), pointId },
        requestedBy: actor,
        reason: request.reason,
      },
      (jobId) =>
        readingFrom(
          works.azure(source.repository, jobId, { vmId: vm.id, pointId, account: account.name, container: request.container }, account),
          source,
        ),
    );
  }

  /** Resumes an interrupted restore to a local folder from its checkpoints. */
  async resume(jobId: string, actor: string): Promise<Job> {
    const { catalog } = this.deps;
    const job = catalog.getJob(jobId);
    if (!job) throw new LifeboatError('not-found', `job ${jobId} does not exist`);
    if (!localRestoreOf(job, catalog.jobParams(jobId)))
      throw new LifeboatError(
        'bad-request',
        `job ${jobId} cannot be resumed: resume covers restores to a local folder; start this one again`,
      );
    const work = await this.localWork(job, true);
    catalog.audit(actor, 'jobs.resume', jobId, { source: work.readFrom });
    return this.deps.jobs.requeue(jobId, () => work.work);
  }

  /** The work of a restore to a local folder from the catalog alone: what another engine of a
   * shared catalog runs (serve --shared). `resuming`: an earlier run stopped part way, and this
   * one continues from its checkpoints. */
  async workFromCatalog(job: Job, resuming: boolean): Promise<JobWork> {
    return (await this.localWork(job, resuming)).work;
  }

  private async localWork(job: Job, resuming: boolean): Promise<{ work: JobWork; readFrom: string }> {
    const request = localRestoreOf(job, this.deps.catalog.jobParams(job.id));
    if (!request) throw new LifeboatError('internal', `job ${job.id} is not a restore to a local folder`);
    // The copy is picked again: the one read before may be gone. Encrypted points resume with a remembered key.
    const source = await this.deps.copies.sourceFor({ id: request.vmId, name: job.vmName }, request.pointId, {
      fromRegion: request.fromRegion,
    });
    const work = readingFrom(this.deps.works.localRestore(source.repository, job.id, request, resuming), source);
    return { work, readFrom: source.site.name };
  }

  /** Gives up on an interrupted job: what it left behind is removed now. */
  async discard(jobId: string, actor: string): Promise<Job> {
    const { catalog } = this.deps;
    const job = catalog.getJob(jobId);
    if (!job) throw new LifeboatError('not-found', `job ${jobId} does not exist`);
    if (job.state !== 'interrupted')
      throw new LifeboatError('conflict', `job ${jobId} is ${job.state}; only an interrupted job can be discarded`);
    // Ended first: should this engine die mid-way, the next start's janitor removes the rest, and
    // no resume can start from a half-removed staging folder.
    const discarded = catalog.updateJob(jobId, { state: 'cancelled', error: 'interrupted, then discarded by the operator' });
    catalog.audit(actor, 'jobs.discard', jobId, {});
    this.deps.events.emit('job.updated', discarded);
    const removed = await this.deps.cleanLeftovers(jobId);
    catalog.addJobEvent(jobId, {
      at: new Date().toISOString(),
      level: 'info',
      step: null,
      message: `discarded by the operator; ${removed} leftover(s) removed`,
    });
    return discarded;
  }
}

export function restoreHandlers(
  restores: RestoreService,
): ChannelHandlers<'restore.entireVm' | 'restore.check' | 'restore.disks' | 'restore.azure' | 'jobs.resume' | 'jobs.discard'> {
  return {
    'restore.entireVm': async (request, { actor }) => ({ job: await restores.start(request, actor) }),
    'restore.check': async (request) => restores.checker.check(request),
    'restore.disks': async (request, { actor }) => ({ job: await restores.startDisks(request, actor) }),
    'restore.azure': async (request, { actor }) => ({ job: await restores.startAzure(request, actor) }),
    'jobs.resume': async ({ jobId }, { actor }) => ({ job: await restores.resume(jobId, actor) }),
    'jobs.discard': async ({ jobId }, { actor }) => ({ job: await restores.discard(jobId, actor) }),
  };
}
