// A restore rehearsal: a chosen set of VMs restored in parallel to an isolated target, each
// checked (a local copy block by block against its restore point; a VM on a hypervisor by
// powering it on), the time to a checked VM recorded as its measured RTO, then removed again
// (unless kept), with an HTML report the operator can hand to an auditor.
import { escapeGuestName } from '../../shared/guest-names.ts';
import { mkdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobWork } from '../jobs/job-work.ts';
import { forEachWindowed, Plan, quietHooks, type StepContext } from '../jobs/plan.ts';
import { LifeboatError, toWireError } from '../errors.ts';
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { resolvePoint } from '../repository/chain.ts';
import type { Repository } from '../repository/repository.ts';
import { compareDiskToFile } from '../restore/disk-transfer.ts';
import { diskFileNames, type DiskFiles } from '../restore/local-vm-writer.ts';
import type { WorkerPool } from '../workers/pool.ts';
import { renderReport } from './report.ts';
import type { RehearsalTarget, RehearsalVm, VmOutcome } from './rehearsal-types.ts';

/** Restores at once; the block workers are shared, so more would only queue behind them. */
const PARALLEL = 3;

/** A VM of the rehearsal with the outcome its restore and check fill in. */
type VmRun = { vm: RehearsalVm; outcome: VmOutcome };
/** The rehearsal under way: when it started (each VM's RTO is counted from there) and its VMs. */
type Started = { startedAt: number; runs: VmRun[] };

export type RehearsalOptions = {
  jobId: string;
  vms: RehearsalVm[];
  target: RehearsalTarget;
  keep: boolean;
  reportsFolder: string;
  repository: Repository;
  pool: WorkerPool;
  /** The normal restore of one VM to the target (its plan is run here, inside restore-and-check). */
  restoreWork(vm: RehearsalVm, restoredAs: string, target: RehearsalTarget): JobWork;
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

export class RehearsalWork implements JobWork {
  static readonly plan = Plan.of<RehearsalWork>()
    .step('initialize', 'Initialization: check the points and the isolated target', (work, _none, context) => work.initialize(context))
    .step(
      'restore-and-check',
      'Restore the VMs in parallel; check each as soon as it is back (disk hashes, or power on)',
      (work, started, context) => work.restoreAll(started, context),
    )
    .step('cleanup', 'Remove the rehearsal VMs', (work, started, context) => work.cleanup(started, context))
    .step('report', 'Record the measured RTOs and write the report', (work, started, context) => work.report(started, context));
  readonly plan = RehearsalWork.plan.bind(this);
  private readonly options: RehearsalOptions;
  private readonly outcomes: VmOutcome[] = [];
  private readonly works = new Map<string, JobWork>();
  private reportPath: string | null = null;
  /** The local target folder did not exist before: it goes again with the copies. */
  private createdRoot = false;

  constructor(options: RehearsalOptions) {
    this.options = options;
  }

  private restoredAs(vm: RehearsalVm): string {
    return `${vm.vmName}-rehearsal`;
  }

  /** The folder of a VM's copy in a local target. */
  private folderOf(root: string, vm: RehearsalVm): string {
    return join(root, escapeGuestName(this.restoredAs(vm)).name); // a VM name is outside input
  }

  private async initialize(context: StepContext): Promise<Started> {
    const startedAt = performance.now();
    const { target } = this.options;
    if (target.kind === 'local')
      this.createdRoot = await stat(target.path).then(
        () => false,
        () => true,
      );
    const runs = this.options.vms.map((vm): VmRun => ({
      vm,
      outcome: {
        vm: vm.vmName,
        point: vm.pointSequence,
        restoredAs: this.restoredAs(vm),
        state: 'failed',
        check: 'not checked',
        rtoSeconds: null,
        error: null,
      },
    }));
    this.outcomes.push(...runs.map((run) => run.outcome));
    context.log(
      `${this.options.vms.length} VM(s) to ${target.kind === 'local' ? target.path : `host ${target.host}`}, ${PARALLEL} at a time`,
    );
    return { startedAt, runs };
  }

  private async restoreAll(started: Started, context: StepContext): Promise<Started> {
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
    await forEachWindowed(started.runs.length, PARALLEL, async (index) => {
      const run = started.runs[index];
      if (!run) return;
      const { vm, outcome } = run;
      const work = this.options.restoreWork(vm, this.restoredAs(vm), this.options.target);
      this.works.set(vm.vmId, work);
      const child = childContext(context, vm.vmName, (done, total) => {
        totals.set(vm.vmId, [done, total]);
        report();
      });
      try {
        await work.plan.run(child, quietHooks);
        await work.finish(true);
      } catch (error) {
        if (context.signal.aborted) throw error;
        outcome.error = toWireError(error).message;
        await work.finish(false).catch(() => undefined);
        this.works.delete(vm.vmId);
      }
      if (!outcome.error) await this.check(vm, outcome, context);
      // The clock stops when the VM is known good (or known bad).
      outcome.rtoSeconds = Math.round((performance.now() - started.startedAt) / 100) / 10;
      child.log(
        `${outcome.state === 'passed' ? `passed (${outcome.check})` : `failed: ${outcome.error}`}, RTO ${outcome.rtoSeconds} s`,
        outcome.state === 'passed' ? 'info' : 'error',
      );
    });
    return started;
  }

  private async check(vm: RehearsalVm, outcome: VmOutcome, context: StepContext): Promise<void> {
    try {
      const { target } = this.options;
      outcome.check =
        target.kind === 'local' ? await this.compareDisks(vm, target.path, context) : await this.powerOn(vm, target.host, context);
      outcome.state = 'passed';
    } catch (error) {
      if (context.signal.aborted) throw error;
      outcome.error = toWireError(error).message;
    }
  }

  private async compareDisks(vm: RehearsalVm, root: string, context: StepContext): Promise<string> {
    const point = await resolvePoint(this.options.repository, vm.vmId, vm.pointId);
    let blocks = 0;
    // The names the local restore gave the copy's disks.
    const files = diskFileNames(point.point, this.restoredAs(vm));
    for (const disk of point.disks) {
      const flat = join(this.folderOf(root, vm), (files.get(disk.key) as DiskFiles).flat);
      const { blocks: checked, differing } = await compareDiskToFile({
        pool: this.options.pool,
        point,
        disk,
        path: flat,
        targetLabel: `rehearsal copy of ${vm.vmName}`,
        context,
        onProgress: () => undefined,
      });
      if (differing > 0)
        throw new LifeboatError('corrupt-disk', `disk ${disk.key} of the restored copy differs from the point in ${differing} block(s)`);
      blocks += checked;
    }
    return `${blocks} blocks match the restore point's SHA-256`;
  }

  private async powerOn(vm: RehearsalVm, host: string, context: StepContext): Promise<string> {
    const client = await this.options.connectHost(host);
    try {
      const found = (await client.inventory()).vms.find((candidate) => candidate.name === this.restoredAs(vm));
      if (!found) throw new LifeboatError('not-found', `the restored VM ${this.restoredAs(vm)} is not on ${host}`);
      await client.runTask('PowerOnVM_Task', found.ref, [], `power on ${this.restoredAs(vm)}`);
      const state = await client.powerState(found.ref);
      if (state !== 'poweredOn') throw new LifeboatError('unavailable', `${this.restoredAs(vm)} is ${state} after power-on`);
      context.log(`${vm.vmName}: ${this.restoredAs(vm)} powered on`);
      return 'powered on';
    } finally {
      await client.logout();
    }
  }

  private async cleanup(started: Started, context: StepContext): Promise<Started> {
    const { target } = this.options;
    if (this.options.keep) context.log('kept: the rehearsal VMs stay where they were restored');
    else if (target.kind === 'local') {
      await this.removeCopies(target.path);
      context.log('rehearsal copies removed');
    } else await this.removeVms(target.host, context);
    return started;
  }

  private async removeVms(host: string, context: StepContext): Promise<void> {
    const client = await this.options.connectHost(host);
    try {
      const names = new Set(this.options.vms.map((vm) => this.restoredAs(vm)));
      for (const found of (await client.inventory()).vms.filter((candidate) => names.has(candidate.name))) {
        if ((await client.powerState(found.ref)) === 'poweredOn')
          await client.runTask('PowerOffVM_Task', found.ref, [], `power off ${found.name}`);
        await client.runTask('Destroy_Task', found.ref, [], `remove ${found.name}`);
      }
      context.log('rehearsal VMs powered off and removed');
    } finally {
      await client.logout();
    }
  }

  private async report({ startedAt, runs }: Started, context: StepContext): Promise<void> {
    await mkdir(this.options.reportsFolder, { recursive: true });
    this.reportPath = join(this.options.reportsFolder, `${this.options.jobId}.html`);
    const endedAt = new Date();
    await writeFile(
      this.reportPath,
      renderReport({
        jobId: this.options.jobId,
        startedAt: new Date(endedAt.getTime() - (performance.now() - startedAt)),
        endedAt,
        target: this.options.target,
        kept: this.options.keep,
        outcomes: runs.map((run) => run.outcome),
      }),
    );
    context.log(`report written to ${this.reportPath}`);
    const failed = runs.filter((run) => run.outcome.state !== 'passed').map((run) => run.outcome);
    if (failed.length > 0)
      throw new LifeboatError(
        'corrupt-disk',
        `${failed.length} of ${runs.length} VM(s) failed the rehearsal: ${failed.map((outcome) => outcome.vm).join(', ')} (see the report)`,
      );
  }

  async finish(succeeded: boolean): Promise<void> {
    if (succeeded) return;
    // A failed or cancelled rehearsal leaves nothing behind, report aside.
    for (const work of this.works.values()) await work.finish(false).catch(() => undefined);
    if (this.options.target.kind === 'local' && !this.options.keep) await this.removeCopies(this.options.target.path);
  }

  private async removeCopies(root: string): Promise<void> {
    for (const vm of this.options.vms) await rm(this.folderOf(root, vm), { recursive: true, force: true });
    if (this.createdRoot) await rmdir(root).catch(() => undefined);
  }

  result(): Record<string, unknown> {
    return { target: this.options.target, kept: this.options.keep, report: this.reportPath, vms: this.outcomes };
  }
}
