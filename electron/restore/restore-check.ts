// The restore wizard's per-step checks (`restore.check`): every step up to the one asked for runs
// the same checks the restore job runs before it starts, and what they find comes back as
// problems, never as a thrown error, with each VM's plan filled as far as the checks got.
import type { RestoreCheck, RestorePlanVm, RestoreProblem, RestoreStep } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { VmLookup } from '../catalog/vm-lookup.ts';
import { LifeboatError } from '../errors.ts';
import type { Parsed } from '../handlers/handler-registry.ts';

export type RestoreCheckRequest = Parsed<'restore.check'>;

export type RestoreCheckDeps = { catalog: Catalog; lookup: VmLookup };

/** The steps in the wizard's order: a check runs every step up to and including the one asked for. */
export const restoreSteps: readonly RestoreStep[] = ['vms', 'mode', 'target', 'datastores', 'network', 'identity', 'summary'];

/** One VM of the request once its VM and point resolved. */
export type ResolvedVm = { vmId: string; vmName: string; pointId: string; plan: RestorePlanVm };

/** What the steps share while a check runs. */
export type CheckRun = { request: RestoreCheckRequest; problems: RestoreProblem[]; vms: ResolvedVm[] };

/** A problem of a step; `error` is a LifeboatError the job's own pre-flight threw (its sentence
 * is the problem's message), anything else is a bug and is thrown on. */
export function problemOf(step: RestoreStep, vm: string | null, field: string, error: unknown): RestoreProblem {
  if (error instanceof LifeboatError) return { step, vm, field, message: error.message };
  throw error;
}

export class RestoreChecker {
  private readonly deps: RestoreCheckDeps;

  constructor(deps: RestoreCheckDeps) {
    this.deps = deps;
  }

  async check(request: RestoreCheckRequest): Promise<RestoreCheck> {
    const run: CheckRun = { request, problems: [], vms: [] };
    const last = restoreSteps.indexOf(request.step);
    for (const step of restoreSteps.slice(0, last + 1)) await this.runStep(step, run);
    return { problems: run.problems, vms: run.vms.map((vm) => vm.plan) };
  }

  private async runStep(step: RestoreStep, run: CheckRun): Promise<void> {
    if (step === 'vms') this.checkVms(run);
  }

  /** Every VM and point resolves, a VM is listed once, and no two VMs end up with one name. */
  private checkVms(run: CheckRun): void {
    const seen = new Map<string, string>();
    const names = new Map<string, string>();
    run.request.vms.forEach((entry, index) => {
      const field = `vms.${index}`;
      let vm: { id: string; name: string };
      let pointId: string;
      try {
        vm = this.deps.lookup.resolveVm(entry.vm);
      } catch (error) {
        run.problems.push(problemOf('vms', entry.vm, `${field}.vm`, error));
        return;
      }
      try {
        pointId = this.deps.lookup.resolvePointId(vm.id, entry.point);
      } catch (error) {
        const owner = this.ownerOfPoint(entry.point);
        run.problems.push(
          owner && owner.id !== vm.id
            ? {
                step: 'vms',
                vm: entry.vm,
                field: `${field}.point`,
                message: `point ${entry.point} is a point of ${owner.name}, not of ${vm.name}`,
              }
            : problemOf('vms', entry.vm, `${field}.point`, error),
        );
        return;
      }
      const twice = seen.get(vm.id);
      if (twice !== undefined) {
        run.problems.push({
          step: 'vms',
          vm: entry.vm,
          field: `${field}.vm`,
          message: `${vm.name} is listed twice (as "${twice}" and "${entry.vm}")`,
        });
        return;
      }
      seen.set(vm.id, entry.vm);
      const name = entry.newName ?? vm.name;
      const clash = names.get(name.toLowerCase());
      if (clash !== undefined)
        run.problems.push({
          step: 'vms',
          vm: entry.vm,
          field: `${field}.newName`,
          message: `${vm.name} would be restored as "${name}", the name ${clash} gets too; give one of them another name`,
        });
      names.set(name.toLowerCase(), vm.name);
      const point = this.deps.catalog.listPoints(vm.id).find((candidate) => candidate.id === pointId);
      run.vms.push({
        vmId: vm.id,
        vmName: vm.name,
        pointId,
        plan: {
          vm: vm.id,
          vmName: vm.name,
          point: pointId,
          pointCreatedAt: point?.createdAt ?? '',
          name,
          bytes: 0,
          estimateSeconds: null,
          copy: '',
          replaces: [],
          disks: (point?.disks ?? []).map((disk) => ({
            key: disk.key,
            label: disk.fileName,
            capacity: disk.capacity,
            datastore: null,
            freeSpace: null,
          })),
          networks: [],
        },
      });
    });
  }

  /** The VM a point id (or id prefix of 8 or more) belongs to, to name a point given with the wrong VM. */
  private ownerOfPoint(point: string): { id: string; name: string } | null {
    if (point.length < 8) return null;
    for (const vm of this.deps.catalog.listVms()) {
      if (this.deps.catalog.listPoints(vm.id).some((candidate) => candidate.id === point || candidate.id.startsWith(point)))
        return { id: vm.id, name: vm.name };
    }
    return null;
  }
}
