// Original-location restore to vSphere: the existing VM's disks are rolled back to a restore
// point. What will be replaced is shown first and must be confirmed; the VM is powered off and
// gets a safety snapshot that is kept until the operator removes it. Through a proxy (Direct SAN
// or HotAdd) only the blocks that differ are written (quick rollback); over NBD, which cannot
// read the disk, every block is. The VM itself is never removed, whatever happens.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { OriginalPreview, ProxySummary } from '../../shared/domain.ts';
import { NO_PARENT, parseDescriptor } from '../disks/vmdk-descriptor.ts';
import { placeDisks } from '../drivers/vsphere/config-spec.ts';
import type { Inventory, VmDisk, VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { el, type MoRef } from '../drivers/vsphere/xml.ts';
import { LifeboatError } from '../errors.ts';
import { resolvePoint, type ResolvedDisk, type ResolvedPoint } from '../repository/chain.ts';
import type { LegacyJobWork } from '../jobs/job-work.ts';
import type { StepContext } from '../jobs/plan.ts';
import { restoreDiskToFile, rollbackDiskInPlace } from './disk-transfer.ts';
import { VsphereRestoreBase } from './vsphere-restore-base.ts';
import { syncPath } from '../fs/durable.ts';
import { selectTransport, transportTitle } from './transport-choice.ts';

export const originalSteps = [
  { name: 'initialize', title: 'Initialization: find the VM, match its disks, choose the transport' },
  { name: 'restore-configuration', title: 'Keep the VM configuration; power the VM off' },
  { name: 'create-snapshot', title: 'Create the safety snapshot (kept)' },
  { name: 'transfer-disks', title: 'Roll the disks back' },
  { name: 'commit-snapshot', title: 'Keep the safety snapshot for the operator' },
  { name: 'finalize', title: 'Finalize' },
] as const;

type Matched = { point: ResolvedDisk; vm: VmDisk; datastore: string; path: string };

function splitDatastorePath(path: string): { datastore: string; path: string } {
  const match = /^\[([^\]]+)\]\s*(.+)$/.exec(path);
  if (!match) throw new LifeboatError('unavailable', `unexpected datastore path ${path}`);
  return { datastore: match[1] as string, path: match[2] as string };
}

/** Finds the VM and pairs its disks with the point's by SCSI bus and unit. */
export async function previewOriginal(client: VsphereClient, inventory: Inventory, point: ResolvedPoint): Promise<{ preview: OriginalPreview; vm: MoRef; matched: Matched[] }> {
  const vmName = point.point.vmName;
  const candidates = inventory.vms.filter((vm) => vm.name === vmName);
  if (candidates.length === 0) throw new LifeboatError('not-found', `VM "${vmName}" is not in this vCenter; restore it to a new location instead`);
  if (candidates.length > 1) throw new LifeboatError('conflict', `${candidates.length} VMs are named "${vmName}"; the original cannot be told apart`);
  const vm = candidates[0] as (typeof candidates)[number];
  const disks = await client.vmDisks(vm.ref);
  const placements = placeDisks(point.disks, vmName);
  const matched = placements.map((placement): Matched => {
    const pointDisk = point.disks.find((disk) => disk.key === placement.key) as ResolvedDisk;
    const vmDisk = disks.find((disk) => disk.controllerBus === placement.controllerBus && disk.unitNumber === placement.unit);
    if (!vmDisk) throw new LifeboatError('conflict', `VM ${vmName} has no disk at SCSI ${placement.controllerBus}:${placement.unit} for ${placement.key}; restore to a new location instead`);
    if (vmDisk.capacity !== pointDisk.capacity) {
      throw new LifeboatError('conflict', `disk ${vmDisk.fileName} of ${vmName} is ${vmDisk.capacity} bytes, the point's ${placement.key} is ${pointDisk.capacity}; restore to a new location instead`);
    }
    return { point: pointDisk, vm: vmDisk, ...splitDatastorePath(vmDisk.fileName) };
  });
  const host = inventory.hosts.find((candidate) => candidate.ref.value === vm.host?.value);
  const preview: OriginalPreview = {
    vmName,
    hostSystem: host?.name ?? '',
    powerState: await client.powerState(vm.ref),
    disks: matched.map((disk) => ({ key: disk.point.key, file: disk.vm.fileName, capacity: disk.vm.capacity, pointCapacity: disk.point.capacity })),
    safetySnapshot: `lifeboat-safety-${new Date().toISOString().replace(/[:.]/g, '-')}`,
  };
  return { preview, vm: vm.ref, matched };
}

export class OriginalVmVsphereRestore extends VsphereRestoreBase implements LegacyJobWork {
  readonly steps = originalSteps;
  private point: ResolvedPoint | null = null;
  private inventory: Inventory | null = null;
  private vm: MoRef | null = null;
  private matched: Matched[] = [];
  private preview: OriginalPreview | null = null;
  private snapshotTaken = false;
  private bytesWritten = 0;
  private unchangedBlocks = 0;
  private totalBlocks = 0;

  async run(step: string, context: StepContext): Promise<'done' | 'skipped' | void> {
    switch (step) {
      case 'initialize':
        return this.initialize(context);
      case 'restore-configuration':
        return this.powerOff(context);
      case 'create-snapshot':
        return this.safetySnapshot(context);
      case 'transfer-disks':
        return this.transferDisks(context);
      case 'commit-snapshot':
        context.log(`the safety snapshot ${this.preview?.safetySnapshot} is kept; remove it once the VM is verified`);
        return 'skipped';
      case 'finalize':
        context.log(`rolled back ${this.totalBlocks - this.unchangedBlocks} of ${this.totalBlocks} blocks (${this.bytesWritten} bytes written); ${this.unchangedBlocks} were already as in the point`);
        return 'done';
    }
    throw new LifeboatError('internal', `restore has no step ${step}`);
  }

  private async initialize(context: StepContext): Promise<void> {
    this.point = await resolvePoint(this.repository, this.request.vmId, this.request.pointId);
    this.client = await this.connectHost(this.request.target.host);
    this.inventory = await this.client.inventory();
    const found = await previewOriginal(this.client, this.inventory, this.point);
    this.vm = found.vm;
    this.matched = found.matched;
    this.preview = found.preview;
    for (const disk of found.preview.disks) context.log(`will replace ${disk.file} (${disk.capacity} bytes) with ${disk.key} of point ${this.point.point.sequence}`);
    const datastores = [...new Set(this.matched.map((disk) => disk.datastore))];
    if (datastores.length > 1) context.log(`disks span ${datastores.join(', ')}; the transport is chosen for ${datastores[0]}`);
    const datastore = this.inventory.datastores.find((ds) => ds.name === datastores[0]);
    if (!datastore) throw new LifeboatError('not-found', `datastore ${datastores[0]} of ${found.preview.vmName} is not in the inventory`);
    this.useTransport(selectTransport({ inventory: this.inventory, datastore, requested: this.request.target.transport ?? 'auto', thick: this.matched.every((disk) => !disk.vm.thin), host: this.request.target.host, proxies: this.proxies, context }));
    const { mode, proxy } = this.transport;
    context.log(`transport: ${transportTitle(mode)}${proxy ? ` through proxy ${proxy.name}: quick rollback, only differing blocks are written` : ': it cannot read the disks, so every block is written'}`);
    context.resources.record('staging-folder', { path: this.staging });
    await mkdir(this.staging, { recursive: true });
  }

  private async powerOff(context: StepContext): Promise<void> {
    const client = this.client as VsphereClient;
    context.log(`original location: ${this.preview?.vmName} keeps its registration and configuration; only its disks are rolled back`);
    if ((await client.powerState(this.vm as MoRef)) === 'poweredOn') {
      await client.runTask('PowerOffVM_Task', this.vm as MoRef, [], `power off ${this.preview?.vmName}`);
      context.log(`${this.preview?.vmName} powered off`);
    }
  }

  private async safetySnapshot(context: StepContext): Promise<void> {
    const client = this.client as VsphereClient;
    const name = (this.preview as OriginalPreview).safetySnapshot;
    await client.runTask('CreateSnapshot_Task', this.vm as MoRef, [el('name', name), el('description', 'taken by Lifeboat before an original-location restore; remove it once the VM is verified'), el('memory', false), el('quiesce', false)], 'create safety snapshot');
    this.snapshotTaken = true;
    context.log(`safety snapshot ${name} created`);
    // Where ESXi moves the running disk to a delta, the flat files are the snapshot's now.
    const after = await client.vmDisks(this.vm as MoRef);
    for (const disk of this.matched) {
      if (!after.some((candidate) => candidate.fileName === disk.vm.fileName)) {
        throw new LifeboatError('unavailable', `after the safety snapshot ${disk.vm.fileName} is no longer the running disk (a delta disk took its place); Lifeboat writes flat disks only, so it stopped before changing anything`);
      }
    }
  }

  private async transferDisks(context: StepContext): Promise<void> {
    const client = this.client as VsphereClient;
    const point = this.point as ResolvedPoint;
    const datacenter = (this.inventory as Inventory).datacenters[0]?.name ?? '';
    const total = this.matched.reduce((sum, disk) => sum + disk.point.capacity, 0);
    let base = 0;
    context.progress(0, total);
    for (const disk of this.matched) {
      const folder = disk.path.includes('/') ? disk.path.slice(0, disk.path.lastIndexOf('/')) : '';
      const descriptor = parseDescriptor(await client.downloadText(datacenter, disk.datastore, disk.path), disk.vm.fileName);
      const extent = descriptor.extents[0];
      if (descriptor.parentCid !== NO_PARENT || descriptor.extents.length !== 1 || !extent?.fileName || (extent.kind !== 'FLAT' && extent.kind !== 'VMFS')) {
        throw new LifeboatError('unavailable', `${disk.vm.fileName} is not a single flat extent (${descriptor.createType}); Lifeboat writes flat disks only`);
      }
      const flatPath = folder ? `${folder}/${extent.fileName}` : extent.fileName;
      this.totalBlocks += disk.point.blockCount;
      const onProgress = (bytes: number): void => context.progress(base + bytes, total);
      if (this.transport.mode === 'nbd') {
        const local = join(this.staging, extent.fileName);
        this.bytesWritten += await restoreDiskToFile({ pool: this.pool, point, disk: disk.point, path: local, targetLabel: `staging folder ${this.staging}`, context, onProgress });
        const sending = performance.now();
        await client.uploadFile(datacenter, disk.datastore, flatPath, local);
        context.busy('network', (performance.now() - sending) / 1000);
        await rm(local, { force: true });
      } else {
        const proxy = this.transport.proxy as ProxySummary;
        const root = proxy.datastorePaths[disk.datastore];
        if (!root) throw new LifeboatError('unavailable', `proxy ${proxy.name} cannot see datastore ${disk.datastore}`);
        if (this.transport.mode === 'hotadd') await this.hotAdd(context, disk.vm.fileName, disk.vm.capacity);
        const local = join(root, flatPath);
        const outcome = await rollbackDiskInPlace({ pool: this.pool, point, disk: disk.point, path: local, targetLabel: `datastore ${disk.datastore}`, context, onProgress });
        await syncPath(local);
        this.bytesWritten += outcome.bytesWritten;
        this.unchangedBlocks += outcome.unchangedBlocks;
        if (this.transport.mode === 'hotadd') await this.detach(context, disk.vm.fileName);
      }
      base += disk.point.capacity;
      context.progress(base, total);
      context.log(`${disk.vm.fileName} rolled back to ${disk.point.key} of point ${point.point.sequence}`);
    }
  }

  /** Whatever the outcome, the source VM stays, and so does its safety snapshot. */
  async finish(): Promise<void> {
    await this.release();
  }

  result(): Record<string, unknown> {
    return {
      vmName: this.preview?.vmName ?? null,
      original: true,
      pointId: this.point?.point.id ?? this.request.pointId,
      safetySnapshot: this.snapshotTaken ? this.preview?.safetySnapshot : null,
      transport: this.transport.mode,
      proxy: this.transport.proxy?.name ?? null,
      bytesWritten: this.bytesWritten,
      unchangedBlocks: this.unchangedBlocks,
      totalBlocks: this.totalBlocks,
    };
  }
}
