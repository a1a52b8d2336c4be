// Restore rehearsals: the VMs restored in parallel to an isolated target, checked and timed, and
// the report each rehearsal leaves.
import { readFile } from 'node:fs/promises';
import type { Job } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { VmLookup } from '../catalog/vm-lookup.ts';
import type { ChannelHandlers, Parsed } from '../handlers/handler-registry.ts';
import { LifeboatError } from '../errors.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import type { TargetChecks } from '../restore/target-checks.ts';
import type { RehearsalOptions, RehearsalWork } from './rehearsal.ts';

export type RehearsalServiceDeps = {
  catalog: Catalog;
  jobs: JobQueue;
  lookup: VmLookup;
  checks: TargetChecks;
  works: { rehearsal(options: Pick<RehearsalOptions, 'jobId' | 'vms' | 'target' | 'keep'>): RehearsalWork };
};

export class RehearsalService {
  private readonly deps: RehearsalServiceDeps;

  constructor(deps: RehearsalServiceDeps) {
    this.deps = deps;
  }

  /** A restore rehearsal: the VMs restored in parallel to an isolated target, checked, timed. */
  start(request: Parsed<'rehearsal.start'>, actor: string): Job {
    const { catalog, lookup } = this.deps;
    const { target } = request;
    this.deps.checks.checkTarget(target, 'the rehearsal VMs');
    const vms = request.vms.map((argument) => {
      const vm = lookup.resolveVm(argument);
      const pointId = lookup.resolvePointId(vm.id, request.point);
      const pointSequence = catalog.listPoints(vm.id).find((point) => point.id === pointId)?.sequence ?? 0;
      return { vmId: vm.id, vmName: vm.name, pointId, pointSequence };
    });
    if (new Set(vms.map((vm) => vm.vmId)).size !== vms.length) throw new LifeboatError('bad-request', 'the same VM is named twice');
    catalog.audit(actor, 'rehearsal.start', null, { vms: vms.map((vm) => vm.vmName), point: request.point, target, keep: request.keep });
    const where = target.kind === 'local' ? target.path : target.host;
    return this.deps.jobs.submit(
      {
        kind: 'rehearsal',
        vmId: null,
        vmName: vms.map((vm) => vm.vmName).join(', '),
        summary: `Rehearse the restore of ${vms.length} VM(s) to ${where}`,
        params: { ...request, vms },
        requestedBy: actor,
      },
      (jobId) => this.deps.works.rehearsal({ jobId, vms, target, keep: request.keep }),
    );
  }

  async report(jobId: string): Promise<string> {
    const job = this.deps.catalog.getJob(jobId);
    if (!job || job.kind !== 'rehearsal') throw new LifeboatError('not-found', `no rehearsal ${jobId}`);
    const path = job.result?.report;
    if (typeof path !== 'string') throw new LifeboatError('not-found', `rehearsal ${jobId} has no report (it did not get that far)`);
    return readFile(path, 'utf8');
  }
}

export function rehearsalHandlers(
  rehearsals: RehearsalService,
  checks: TargetChecks,
): ChannelHandlers<'rehearsal.start' | 'rehearsal.report'> {
  return {
    'rehearsal.start': async (request, { actor }) => ({ job: rehearsals.start(await checks.checkedLocalTarget(request), actor) }),
    'rehearsal.report': async ({ jobId }) => ({ html: await rehearsals.report(jobId) }),
  };
}
