// Starting the verification of a chain (or of one point): an encrypted chain is unlocked first,
// as for a restore, so a wrong password fails before a job exists.
import type { Job } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { VmLookup } from '../catalog/vm-lookup.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import type { KeyCredentials, KeyService } from '../keys/key-service.ts';
import type { Repository } from '../repository/repository.ts';
import type { PointToVerify, VerifyWork } from './verify-chain.ts';

export type VerifyServiceDeps = {
  catalog: Catalog;
  jobs: JobQueue;
  repository: Repository;
  keys: KeyService;
  lookup: VmLookup;
  works: { verify(repository: Repository, vmId: string, points: PointToVerify[]): VerifyWork };
};

export class VerifyService {
  private readonly deps: VerifyServiceDeps;

  constructor(deps: VerifyServiceDeps) {
    this.deps = deps;
  }

  /** Verifies a chain (or one point); an encrypted chain is unlocked first, as for a restore. */
  async start(vmArgument: string, point: string | undefined, actor: string, credentials: KeyCredentials = {}): Promise<Job> {
    const { catalog, lookup, repository: primary } = this.deps;
    const vm = lookup.resolveVm(vmArgument);
    const pointIds = point === undefined ? null : [lookup.resolvePointId(vm.id, point)];
    const listed = catalog.listPoints(vm.id);
    const points = listed
      .filter((candidate) => pointIds === null || pointIds.includes(candidate.id))
      .map(({ id, sequence }) => ({ id, sequence }));
    const keyId = listed.find((candidate) => candidate.keyId !== null)?.keyId ?? null;
    const repository = primary.withKeys(await this.deps.keys.unlocker(keyId, credentials, `the chain of ${vm.name}`)(primary));
    catalog.audit(actor, 'verify.start', vm.id, { point: point ?? 'all' });
    return this.deps.jobs.submit(
      {
        kind: 'verify',
        vmId: vm.id,
        vmName: vm.name,
        summary: `Verify ${point === undefined ? 'every point' : `point ${point}`} of ${vm.name}`,
        params: { vm: vm.id, pointIds },
      },
      () => this.deps.works.verify(repository, vm.id, points),
    );
  }
}

export function verifyHandlers(verifies: VerifyService): ChannelHandlers<'verify.start'> {
  return {
    'verify.start': async ({ vm, point, ...credentials }, { actor }) => ({ job: await verifies.start(vm, point, actor, credentials) }),
  };
}
