// The restore wizard's per-step checks (`restore.check`): every step up to the one asked for runs
// the same checks the restore job runs before it starts (target-checks.ts, the local folder's
// claim, vsphere-preflight.ts, the copy choice), and what they find comes back as problems, never
// as a thrown error, with each VM's plan filled as far as the checks got.
import { join } from 'node:path';
import type {
  LocalTarget,
  ProxySummary,
  RestoreCheck,
  RestorePlanVm,
  RestoreProblem,
  RestoreStep,
  VsphereTarget,
} from '../../shared/domain.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { VmLookup } from '../catalog/vm-lookup.ts';
import type { CopyService } from '../copies/copy-service.ts';
import type { PickedSource } from '../copies/source-picker.ts';
import { parseVmx } from '../disks/vmx.ts';
import { checkClaimable } from '../drivers/local-datastore/local-datastore.ts';
import type { Inventory, VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { LifeboatError } from '../errors.ts';
import { freeBytes } from '../fs/target-check.ts';
import type { Parsed } from '../handlers/handler-registry.ts';
import { resolvePoint, type ResolvedPoint } from '../repository/chain.ts';
import { dataBytesOf } from './disk-transfer.ts';
import { previewOriginal } from './original-vm-vsphere.ts';
import type { TargetChecks } from './target-checks.ts';
import { chooseTransport } from './transport-choice.ts';
import { vsphereUuid } from './vm-identity.ts';
import {
  checkDiskKeys,
  checkIdentityFree,
  checkNameFree,
  checkOriginalOptions,
  checkNetworkKeys,
  checkRoom,
  choosePlacement,
  disksOnDatastores,
  networkChooser,
  nicNetworks,
  ownMapsOf,
  type ClaimedSpace,
  type Placement,
} from './vsphere-preflight.ts';

export type RestoreCheckRequest = Parsed<'restore.check'>;

export type RestoreCheckDeps = {
  catalog: Catalog;
  lookup: VmLookup;
  checks: TargetChecks;
  copies: CopyService;
  connectHost: (name: string) => Promise<VsphereClient>;
  /** The proxies a restore to this host chooses from (a transport asked for by name is checked with them). */
  restoreProxies?: (host: string) => ProxySummary[];
};

/** The steps in the wizard's order: a check runs every step up to and including the one asked for. */
export const restoreSteps: readonly RestoreStep[] = ['vms', 'mode', 'target', 'datastores', 'network', 'identity', 'summary'];

/** One VM of the request once its VM and point resolved; its source and point once read. */
type ResolvedVm = {
  /** The VM as the request named it: what its problems name. */
  asked: string;
  vmId: string;
  vmName: string;
  pointId: string;
  plan: RestorePlanVm;
  source?: PickedSource;
  point?: ResolvedPoint;
  /** Set once a step found a problem of this VM: later steps pass it over. */
  failed?: boolean;
};

/** The vSphere target as the checks found it. */
type HostView = { client: VsphereClient; inventory: Inventory; placement: Placement | null };

/** What the steps share while a check runs. */
type CheckRun = { request: RestoreCheckRequest; problems: RestoreProblem[]; vms: ResolvedVm[]; host: HostView | null; stopped: boolean };

/** A problem of a step; `error` is a LifeboatError the job's own pre-flight threw (its sentence
 * is the problem's message), anything else is a bug and is thrown on. */
export function problemOf(step: RestoreStep, vm: string | null, field: string, error: unknown): RestoreProblem {
  if (error instanceof LifeboatError) return { step, vm, field, message: error.message };
  throw error;
}

function awaitsKey(run: CheckRun, step: RestoreStep, error: unknown): boolean {
  const { password, recoveryKey } = run.request;
  return (
    step !== 'summary' &&
    password === undefined &&
    recoveryKey === undefined &&
    error instanceof LifeboatError &&
    error.code === 'unauthorized'
  );
}

export class RestoreChecker {
  private readonly deps: RestoreCheckDeps;

  constructor(deps: RestoreCheckDeps) {
    this.deps = deps;
  }

  async check(request: RestoreCheckRequest): Promise<RestoreCheck> {
    const run: CheckRun = { request, problems: [], vms: [], host: null, stopped: false };
    const last = restoreSteps.indexOf(request.step);
    try {
      for (const step of restoreSteps.slice(0, last + 1)) {
        await this.runStep(step, run);
        if (run.stopped) break;
      }
    } finally {
      await run.host?.client.logout();
    }
    return { problems: run.problems, vms: run.vms.map((vm) => vm.plan) };
  }

  private async runStep(step: RestoreStep, run: CheckRun): Promise<void> {
    const { target } = run.request;
    if (step === 'vms') return this.checkVms(run);
    if (!target) {
      run.problems.push({ step, vm: null, field: 'target', message: 'choose where to restore to: the original VM, a host or a folder' });
      run.stopped = true;
      return;
    }
    if (step === 'mode') return this.checkMode(run, target);
    if (step === 'target') return target.kind === 'local' ? this.checkLocalTarget(run, target) : this.checkHost(run, target);
    if (step === 'datastores') return target.kind === 'local' ? this.checkLocalRoom(run, target) : this.checkDatastores(run, target);
    if (target.kind === 'local') return step === 'summary' ? this.summarize(run, target) : undefined;
    if (step === 'network') return this.checkAllNetworks(run, target);
    if (step === 'identity') return this.eachVm(run, step, 'target.identity', (vm) => this.checkIdentity(run, vm, target));
    return this.summarize(run, target);
  }

  /** Runs a VM's check of a step on every VM no earlier step failed; a LifeboatError is its problem. */
  private async eachVm(run: CheckRun, step: RestoreStep, field: string, check: (vm: ResolvedVm) => Promise<void> | void): Promise<void> {
    for (const vm of run.vms) {
      if (vm.failed) continue;
      try {
        await check(vm);
      } catch (error) {
        // An encrypted point whose key was not given yet: the wizard asks for it on the summary,
        // so until then the checks that read the point wait for it instead of failing the step.
        if (awaitsKey(run, step, error)) continue;
        vm.failed = true;
        run.problems.push(problemOf(step, vm.asked, field, error));
      }
    }
  }

  /** A problem of the whole request: the steps after it cannot run. */
  private stop(run: CheckRun, step: RestoreStep, field: string, error: unknown): void {
    run.problems.push(problemOf(step, null, field, error));
    run.stopped = true;
  }

  /** Original location rolls back a VM that is on the host (restore.previewOriginal's checks);
   * any other location needs the VM's name free there. */
  private async checkMode(run: CheckRun, target: LocalTarget | VsphereTarget): Promise<void> {
    if (target.kind === 'local') return;
    const host = await this.hostView(run, 'mode', target);
    if (!host) return;
    if (target.original) {
      if (run.vms.some((vm) => vm.plan.name !== vm.vmName))
        run.problems.push({
          step: 'mode',
          vm: null,
          field: 'vms.newName',
          message: 'an original-location restore keeps the VM and its name; drop the new name',
        });
      try {
        checkOriginalOptions(target);
      } catch (error) {
        run.problems.push(problemOf('mode', null, 'target.powerOn', error));
      }
      await this.eachVm(run, 'mode', 'target.original', async (vm) => {
        const { preview } = await previewOriginal(host.client, host.inventory, await this.pointOf(run, vm));
        vm.plan.replaces = preview.disks.map((disk) => `disk ${disk.key} of ${preview.vmName} (${disk.file}), rolled back to the point`);
      });
      return;
    }
    await this.eachVm(run, 'mode', 'vms.newName', (vm) => checkNameFree(host.inventory, vm.plan.name, target.host));
  }

  /** A local folder: the path rules of every target, then each VM's folder is empty (or absent) and writable. */
  private async checkLocalTarget(run: CheckRun, target: LocalTarget): Promise<void> {
    let path: string;
    try {
      path = await this.deps.checks.checkLocalPath(target.path, 'the restore target');
    } catch (error) {
      return this.stop(run, 'target', 'target.path', error);
    }
    await this.eachVm(run, 'target', 'target.path', (vm) => checkClaimable(localFolderOf(path, vm, run.vms.length)));
  }

  /** The host is known and answers, and has a connected ESXi host (the one named, if any). */
  private async checkHost(run: CheckRun, target: VsphereTarget): Promise<void> {
    const host = await this.hostView(run, 'target', target);
    if (!host) return;
    try {
      const { datastore: _datastore, diskDatastores: _disks, ...withoutDatastores } = target;
      choosePlacement(host.inventory, withoutDatastores);
    } catch (error) {
      this.stop(run, 'target', 'target.hostSystem', error);
    }
  }

  /** A local folder has room for what every VM writes into it (its claim's check). */
  private async checkLocalRoom(run: CheckRun, target: LocalTarget): Promise<void> {
    let needed = 0;
    await this.eachVm(run, 'datastores', 'target.path', async (vm) => {
      needed += (await this.fillBytes(run, vm)).bytes;
    });
    let existing = target.path;
    for (;;) {
      const free = await freeBytes(existing).catch(() => null);
      if (free !== null) {
        if (free < needed)
          run.problems.push({
            step: 'datastores',
            vm: null,
            field: 'target.path',
            message: `target ${target.path} has ${free} bytes free; the VMs need ${needed}`,
          });
        return;
      }
      const parent = join(existing, '..');
      if (parent === existing) return;
      existing = parent;
    }
  }

  /** Each disk on its datastore, with room summed per datastore across all VMs of the request. */
  private async checkDatastores(run: CheckRun, target: VsphereTarget): Promise<void> {
    const host = await this.hostView(run, 'datastores', target);
    if (!host) return;
    let placement: Placement;
    try {
      placement = choosePlacement(host.inventory, target);
    } catch (error) {
      return this.stop(run, 'datastores', 'target.diskDatastores', error);
    }
    host.placement = placement;
    const claimed: ClaimedSpace = new Map();
    const thin = (target.diskFormat ?? 'thin') === 'thin';
    const transport = target.transport ?? 'auto';
    await this.eachVm(run, 'datastores', 'target.diskDatastores', async (vm) => {
      const point = await this.pointOf(run, vm);
      const disks = point.disks.map((disk) => ({ key: disk.key, capacity: disk.capacity, dataBytes: dataBytesOf(disk) }));
      const own = ownMapsOf(target, { disks: disks.map((disk) => disk.key) });
      const placed = target.original ? [] : disksOnDatastores(host.inventory, placement, own, disks);
      vm.plan.disks = point.disks.map((disk) => {
        const on = placed.find((candidate) => candidate.key === disk.key)?.datastore ?? null;
        return {
          key: disk.key,
          label: disk.fileName,
          capacity: disk.capacity,
          datastore: on?.name ?? null,
          freeSpace: on?.freeSpace ?? null,
        };
      });
      checkRoom(placed, thin, claimed);
      // A transport asked for by name needs a proxy that sees every datastore the disks go to (the
      // job's choice; whether the proxy is busy or its VM can hot-add is the job's to find).
      if (transport !== 'auto' && !target.original)
        chooseTransport({
          requested: transport,
          thick: !thin,
          datastore: placement.datastore.name,
          alsoDatastores: placed.map((disk) => disk.datastore.name).filter((name) => name !== placement.datastore.name),
          proxies: this.deps.restoreProxies?.(target.host) ?? [],
          busy: () => null,
          hotAddBlocker: () => null,
        });
    });
    if (!target.original)
      this.checkMapKeys(run, 'datastores', 'target.diskDatastores', () =>
        checkDiskKeys(
          target,
          run.vms.flatMap((vm) => vm.plan.disks.map((disk) => disk.key)),
          run.vms.length,
        ),
      );
  }

  /** A map key is a problem only when no VM of the request has it (each VM is checked with its own keys). */
  private checkMapKeys(run: CheckRun, step: RestoreStep, field: string, check: () => void): void {
    if (run.vms.length === 0) return;
    try {
      check();
    } catch (error) {
      run.problems.push(problemOf(step, null, field, error));
    }
  }

  /** Every NIC's network: the map's entries exist on the ESXi host and name networks of some VM's backup. */
  private async checkAllNetworks(run: CheckRun, target: VsphereTarget): Promise<void> {
    if (!run.host?.placement || target.original) return;
    const sources: (string | undefined)[] = [];
    let checked = 0;
    await this.eachVm(run, 'network', 'target.networkMap', async (vm) => {
      sources.push(...(await this.checkNetworks(run, vm, target)));
      checked++;
    });
    // A VM whose NICs were not read may be on the network a key names: then the key is not judged.
    if (checked === run.vms.length)
      this.checkMapKeys(run, 'network', 'target.networkMap', () => checkNetworkKeys(target, sources, run.vms.length));
  }

  /** One VM's NICs, each on its network (only the map keys its NICs are on apply); returns the networks its NICs were on. */
  private async checkNetworks(run: CheckRun, vm: ResolvedVm, target: VsphereTarget): Promise<(string | undefined)[]> {
    const placement = run.host?.placement as Placement;
    const vmx = parseVmx((await this.pointOf(run, vm)).point.vmConfig.text, `${vm.vmName} configuration`);
    const nics = nicNetworks(vmx);
    const sources = nics.map((nic) => nic.network);
    const network = networkChooser(placement, ownMapsOf(target, { networks: sources }), sources);
    vm.plan.networks = nics.map((nic) => ({ source: nic.network ?? `NIC ${nic.nic}`, target: network(nic.network) }));
    return sources;
  }

  /** Keeping the identity of a VM that is still registered gives two VMs one identity (the job's check). */
  private async checkIdentity(run: CheckRun, vm: ResolvedVm, target: VsphereTarget): Promise<void> {
    if (target.identity !== 'keep' || target.original || !run.host) return;
    const vmx = parseVmx((await this.pointOf(run, vm)).point.vmConfig.text, `${vm.vmName} configuration`);
    checkIdentityFree(run.host.inventory, target, { name: vm.vmName, uuid: vsphereUuid(vmx.uuid) });
  }

  /** Bytes to write, a time estimate from recent restores, the copy read, what is replaced. */
  private async summarize(run: CheckRun, target: LocalTarget | VsphereTarget): Promise<void> {
    if (target.kind === 'vsphere') {
      try {
        this.deps.checks.checkTarget(target, run.vms.map((vm) => vm.vmName).join(', '));
      } catch (error) {
        run.problems.push(problemOf('summary', null, 'target.confirmOverwrite', error));
      }
    }
    const rate = recentRestoreRate(this.deps.catalog);
    await this.eachVm(run, 'summary', 'vms', async (vm) => {
      const { bytes } = await this.fillBytes(run, vm);
      vm.plan.estimateSeconds = rate === null ? null : Math.ceil(bytes / rate);
      const source = await this.sourceOf(run, vm);
      vm.plan.copy = `${source.site.role === 'primary' ? 'primary repository' : 'copy'} ${source.site.name} (region ${source.site.region})`;
    });
  }

  private async fillBytes(run: CheckRun, vm: ResolvedVm): Promise<RestorePlanVm> {
    const point = await this.pointOf(run, vm);
    vm.plan.bytes = point.disks.reduce((sum, disk) => sum + dataBytesOf(disk), 0);
    return vm.plan;
  }

  /** The copy a restore of this VM reads (the jobs' own choice), unlocked as the request says. */
  private async sourceOf(run: CheckRun, vm: ResolvedVm): Promise<PickedSource> {
    vm.source ??= await this.deps.copies.sourceFor({ id: vm.vmId, name: vm.vmName }, vm.pointId, run.request);
    return vm.source;
  }

  private async pointOf(run: CheckRun, vm: ResolvedVm): Promise<ResolvedPoint> {
    vm.point ??= await resolvePoint((await this.sourceOf(run, vm)).repository, vm.vmId, vm.pointId);
    return vm.point;
  }

  /** The target host's session and inventory, once per check; an unknown or unreachable host is
   * the step's problem and stops the check. */
  private async hostView(run: CheckRun, step: RestoreStep, target: VsphereTarget): Promise<HostView | null> {
    if (run.host) return run.host;
    try {
      this.deps.checks.checkTarget({ ...target, confirmOverwrite: true }, '');
      const client = await this.deps.connectHost(target.host);
      try {
        run.host = { client, inventory: await client.inventory(), placement: null };
      } catch (error) {
        await client.logout();
        throw error;
      }
      return run.host;
    } catch (error) {
      this.stop(run, step, 'target.host', error);
      return null;
    }
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
        asked: entry.vm,
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

/** Where one VM of a request goes in a local folder: the folder itself for one VM, a folder per
 * VM (its escaped name) below it for several, as the tape restores lay them out. */
export function localFolderOf(path: string, vm: { plan: { name: string } }, count: number): string {
  return count > 1 ? join(path, escapeGuestName(vm.plan.name).name) : path;
}

/** Bytes per second of the last finished restores, from their samples; null without any. */
function recentRestoreRate(catalog: Catalog): number | null {
  let bytes = 0;
  let seconds = 0;
  const restores = catalog
    .listJobs(200)
    .filter((job) => job.state === 'succeeded' && job.kind.startsWith('restore'))
    .slice(0, 10);
  for (const job of restores) {
    const samples = catalog.jobSamples(job.id);
    const first = samples.at(-1);
    const last = samples[0];
    if (!first || !last || last.at <= first.at) continue;
    bytes += last.bytesDone - first.bytesDone;
    seconds += (last.at - first.at) / 1000;
  }
  return bytes > 0 && seconds > 0 ? bytes / seconds : null;
}
