// A restore rehearsal: a chosen set of VMs restored in parallel to an isolated target, each
// checked (a local copy block by block against its restore point; a VM on a hypervisor by
// powering it on), the time to a checked VM recorded as its measured RTO, then removed again
// (unless kept), with an HTML report the operator can hand to an auditor.
import { escapeGuestName } from '../../shared/guest-names.ts';
import { mkdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LegacyJobWork } from '../jobs/job-work.ts';
import { forEachWindowed, type StepContext } from '../jobs/plan.ts';
import { LifeboatError, toWireError } from '../errors.ts';
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { resolvePoint } from '../repository/chain.ts';
import type { Repository } from '../repository/repository.ts';
import { compareDiskToFile } from '../restore/disk-transfer.ts';
import { diskFileNames, type DiskFiles } from '../restore/local-vm-writer.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { renderReport } from './report.ts';
import type { RehearsalTarget, RehearsalVm, VmOutcome } from './rehearsal-types.ts';

export const rehearsalSteps = [
  { name: 'initialize', title: 'Initialization: check the points and the isolated target' },
  { name: 'restore-and-check', title: 'Restore the VMs in parallel; check each as soon as it is back (disk hashes, or power on)' },
  { name: 'cleanup', title: 'Remove the rehearsal VMs' },
  { name: 'report', title: 'Record the measured RTOs and write the report' },
] as const;

/** Restores at once; the block workers are shared, so more would only queue behind them. */
const PARALLEL = 3;

export type RehearsalOptions = {
  jobId: string;
  vms: RehearsalVm[];
  target: RehearsalTarget;
  keep: boolean;
  reportsFolder: string;
  repository: Repository;
  pool: WorkerPool;
  /** The normal restore of one VM to the target (its steps are run here, one after the other). */
  restoreWork(vm: RehearsalVm, restoredAs: string, target: RehearsalTarget): LegacyJobWork;
  connectHost(name: string): Promise<VsphereClient>;
};

/** A step context for one VM's restore inside the rehearsal: its own progress and log prefix. */
function childContext(parent: StepContext, label: string, report: (done: number, total: number) => void): StepContext {
  return {
    signal: parent.signal,
    resources: parent.resources,
    progress: report,
    log: (message, level) => parent.log(`${label}: ${message}`, level),
    waiting: parent.waiting,
    busy: parent.busy,
  };
}

export class RehearsalWork implements LegacyJobWork {
  readonly steps = rehearsalSteps;
  private readonly options: RehearsalOptions;
  private readonly outcomes = new Map<string, VmOutcome>();
  private readonly works = new Map<string, LegacyJobWork>();
  private startedAt = 0;
  private reportPath: string | null = null;
  /** The local target folder did not exist before: it goes again with the copies. */
  private createdRoot = false;

  constructor(options: RehearsalOptions) {
    this.options = options;
  }

  private restoredAs(vm: RehearsalVm): string {
    return `${vm.vmName}-rehearsal`;
  }

  private folderOf(vm: RehearsalVm): string {
    return join((this.options.target as { path: string }).path, escapeGuestName(this.restoredAs(vm)).name); // a VM name is outside input
  }

  async run(step: string, context: StepContext): Promise<void> {
    switch (step) {
      case 'initialize':
        this.startedAt = performance.now();
        if (this.options.target.kind === 'local') this.createdRoot = await stat(this.options.target.path).then(() => false, () => true);
        for (const vm of this.options.vms) this.outcomes.set(vm.vmId, { vm: vm.vmName, point: vm.pointSequence, restoredAs: this.restoredAs(vm), state: 'failed', check: 'not checked', rtoSeconds: null, error: null });
        context.log(`${this.options.vms.length} VM(s) to ${this.options.target.kind === 'local' ? this.options.target.path : `host ${this.options.target.host}`}, ${PARALLEL} at a time`);
        return;
      case 'restore-and-check':
        return this.restoreAll(context);
      case 'cleanup':
        if (this.options.keep) {
          context.log('kept: the rehearsal VMs stay where they were restored');
          return;
        }
        return this.cleanup(context);
      case 'report':
        return this.report(context);
    }
    throw new LifeboatError('internal', `a rehearsal has no step ${step}`);
  }

  private async restoreAll(context: StepContext): Promise<void> {
    const totals = new Map<string, [number, number]>();
    const report = (): void => {
      let done = 0;
      let total = 0;
      for (const [d, t] of totals.values()) {
        done += d;
        total += t;
      }
      context.progress(done, total);
    };
    await forEachWindowed(this.options.vms.length, PARALLEL, async (index) => {
      const vm = this.options.vms[index] as RehearsalVm;
      const outcome = this.outcomes.get(vm.vmId) as VmOutcome;
      const work = this.options.restoreWork(vm, this.restoredAs(vm), this.options.target);
      this.works.set(vm.vmId, work);
      const child = childContext(context, vm.vmName, (done, total) => {
        totals.set(vm.vmId, [done, total]);
        report();
      });
      try {
        for (const inner of work.steps) await work.run(inner.name, child);
        await work.finish(true);
      } catch (error) {
        if (context.signal.aborted) throw error;
        outcome.error = toWireError(error).message;
        await work.finish(false).catch(() => undefined);
        this.works.delete(vm.vmId);
      }
      if (!outcome.error) await this.check(vm, outcome, context);
      // The clock stops when the VM is known good (or known bad).
      outcome.rtoSeconds = Math.round((performance.now() - this.startedAt) / 100) / 10;
      child.log(`${outcome.state === 'passed' ? `passed (${outcome.check})` : `failed: ${outcome.error}`}, RTO ${outcome.rtoSeconds} s`, outcome.state === 'passed' ? 'info' : 'error');
    });
  }

  private async check(vm: RehearsalVm, outcome: VmOutcome, context: StepContext): Promise<void> {
    try {
      outcome.check = this.options.target.kind === 'local' ? await this.compareDisks(vm, context) : await this.powerOn(vm, context);
      outcome.state = 'passed';
    } catch (error) {
      if (context.signal.aborted) throw error;
      outcome.error = toWireError(error).message;
    }
  }

  private async compareDisks(vm: RehearsalVm, context: StepContext): Promise<string> {
    const point = await resolvePoint(this.options.repository, vm.vmId, vm.pointId);
    let blocks = 0;
    // The names the local restore gave the copy's disks.
    const files = diskFileNames(point.point, this.restoredAs(vm));
    for (const disk of point.disks) {
      const flat = join(this.folderOf(vm), (files.get(disk.key) as DiskFiles).flat);
      const { blocks: checked, differing } = await compareDiskToFile({ pool: this.options.pool, point, disk, path: flat, targetLabel: `rehearsal copy of ${vm.vmName}`, context, onProgress: () => undefined });
      if (differing > 0) throw new LifeboatError('corrupt-disk', `disk ${disk.key} of the restored copy differs from the point in ${differing} block(s)`);
      blocks += checked;
    }
    return `${blocks} blocks match the restore point's SHA-256`;
  }

  private async powerOn(vm: RehearsalVm, context: StepContext): Promise<string> {
    const target = this.options.target as { host: string };
    const client = await this.options.connectHost(target.host);
    try {
      const found = (await client.inventory()).vms.find((candidate) => candidate.name === this.restoredAs(vm));
      if (!found) throw new LifeboatError('not-found', `the restored VM ${this.restoredAs(vm)} is not on ${target.host}`);
      await client.runTask('PowerOnVM_Task', found.ref, [], `power on ${this.restoredAs(vm)}`);
      const state = await client.powerState(found.ref);
      if (state !== 'poweredOn') throw new LifeboatError('unavailable', `${this.restoredAs(vm)} is ${state} after power-on`);
      context.log(`${vm.vmName}: ${this.restoredAs(vm)} powered on`);
      return 'powered on';
    } finally {
      await client.logout();
    }
  }

  private async cleanup(context: StepContext): Promise<void> {
    if (this.options.target.kind === 'local') {
      await this.removeCopies();
      context.log('rehearsal copies removed');
      return;
    }
    const client = await this.options.connectHost(this.options.target.host);
    try {
      const names = new Set(this.options.vms.map((vm) => this.restoredAs(vm)));
      for (const found of (await client.inventory()).vms.filter((candidate) => names.has(candidate.name))) {
        if ((await client.powerState(found.ref)) === 'poweredOn') await client.runTask('PowerOffVM_Task', found.ref, [], `power off ${found.name}`);
        await client.runTask('Destroy_Task', found.ref, [], `remove ${found.name}`);
      }
      context.log('rehearsal VMs powered off and removed');
    } finally {
      await client.logout();
    }
  }

  private async report(context: StepContext): Promise<void> {
    await mkdir(this.options.reportsFolder, { recursive: true });
    this.reportPath = join(this.options.reportsFolder, `${this.options.jobId}.html`);
    const endedAt = new Date();
    await writeFile(this.reportPath, renderReport({ jobId: this.options.jobId, startedAt: new Date(endedAt.getTime() - (performance.now() - this.startedAt)), endedAt, target: this.options.target, kept: this.options.keep, outcomes: [...this.outcomes.values()] }));
    context.log(`report written to ${this.reportPath}`);
    const failed = [...this.outcomes.values()].filter((outcome) => outcome.state !== 'passed');
    if (failed.length > 0) throw new LifeboatError('corrupt-disk', `${failed.length} of ${this.outcomes.size} VM(s) failed the rehearsal: ${failed.map((outcome) => outcome.vm).join(', ')} (see the report)`);
  }

  async finish(succeeded: boolean): Promise<void> {
    if (succeeded) return;
    // A failed or cancelled rehearsal leaves nothing behind, report aside.
    for (const work of this.works.values()) await work.finish(false).catch(() => undefined);
    if (this.options.target.kind === 'local' && !this.options.keep) await this.removeCopies();
  }

  private async removeCopies(): Promise<void> {
    for (const vm of this.options.vms) await rm(this.folderOf(vm), { recursive: true, force: true });
    if (this.createdRoot) await rmdir((this.options.target as { path: string }).path).catch(() => undefined);
  }

  result(): Record<string, unknown> {
    return { target: this.options.target, kept: this.options.keep, report: this.reportPath, vms: [...this.outcomes.values()] };
  }
}
