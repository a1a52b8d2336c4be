// How a request's VM and point arguments (a name or id; `latest`, a sequence number or an id
// prefix) become the catalog's ids, and a VM's points with the health of their metadata. Every
// service that takes a VM or a point from the operator resolves it here.
import type { RestorePoint } from '../../shared/domain.ts';
import { LifeboatError } from '../errors.ts';
import type { Repository } from '../repository/repository.ts';
import { pointHealth } from '../repository/point-health.ts';
import type { Catalog } from './catalog.ts';

export type VmLookupDeps = { catalog: Catalog; repository: Repository };

export class VmLookup {
  private readonly deps: VmLookupDeps;

  constructor(deps: VmLookupDeps) {
    this.deps = deps;
  }

  resolveVm(idOrName: string): { id: string; name: string } {
    const vm = this.deps.catalog.findVm(idOrName);
    if (!vm) throw new LifeboatError('not-found', `no VM "${idOrName}" in the catalog; \`lifeboat vms\` lists them`);
    if (vm.matches > 1) throw new LifeboatError('conflict', `${vm.matches} VMs are named "${idOrName}"; use the VM id`);
    return vm;
  }

  resolvePointId(vmId: string, point: string): string {
    const points = this.deps.catalog.listPoints(vmId);
    if (points.length === 0) throw new LifeboatError('not-found', `VM ${vmId} has no restore points`);
    if (point === 'latest') return (points[0] as (typeof points)[number]).id;
    const bySequence = /^\d+$/.test(point) ? points.find((candidate) => candidate.sequence === Number(point)) : undefined;
    const match = bySequence ?? points.find((candidate) => candidate.id === point || (point.length >= 8 && candidate.id.startsWith(point)));
    if (!match) throw new LifeboatError('not-found', `VM ${vmId} has no restore point "${point}"; \`lifeboat points <vm>\` lists them`);
    return match.id;
  }

  /** A VM argument and a point argument at once, as the tape and instant services take them. */
  resolvePoint(vmArgument: string, point: string): { vmId: string; vmName: string; pointId: string } {
    const vm = this.resolveVm(vmArgument);
    return { vmId: vm.id, vmName: vm.name, pointId: this.resolvePointId(vm.id, point) };
  }

  /** A VM's points as the catalog lists them, each with the health of its metadata as the
   * repository holds it now. */
  async pointsWithHealth(vmId: string): Promise<RestorePoint[]> {
    const entries = await this.deps.repository.scanPoints(vmId);
    return this.deps.catalog.listPoints(vmId).map((point) => ({ ...point, health: pointHealth(entries, point.id) }));
  }
}
