// Original-location restore to vSphere: the existing VM's disks are rolled back to a restore
// point. What will be replaced is shown first and must be confirmed; the VM is powered off and
// gets a safety snapshot that is kept until the operator removes it. Through a proxy (Direct SAN
// or HotAdd) only the blocks that differ are written (quick rollback); over NBD, which cannot
// read the disk, every block is. The VM itself is never removed, whatever happens.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { OriginalPreview } from '../../shared/domain.ts';
import { NO_PARENT, parseDescriptor } from '../disks/vmdk-descriptor.ts';
import { placeDisks } from '../drivers/vsphere/config-spec.ts';
import type { Inventory, VmDisk, VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { el, type MoRef } from '../drivers/vsphere/xml.ts';
import { LifeboatError } from '../errors.ts';
import { resolvePoint, type ResolvedDisk, type ResolvedPoint } from '../repository/chain.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, skip, type StepContext } from '../jobs/plan.ts';
import { rollbackDiskInPlace } from './disk-transfer.ts';
import { pointDiskReader } from './vm-source.ts';
import { VsphereRestoreBase } from './vsphere-restore-base.ts';
import { syncPath } from '../fs/durable.ts';
import { selectTransport, transportTitle, type TransportDecision } from './transport-choice.ts';

type Matched = { point: ResolvedDisk; vm: VmDisk; datastore: string; path: string };

function splitDatastorePath(path: string): { datastore: string; path: string } {
  const match = /^\[([^\]]+)\]\s*(.+)$/.exec(path);
  if (!match) throw new LifeboatError('unavailable', `unexpected datastore path ${path}`);
  return { datastore: match[1] as string, path: match[2] as string };
}

/** Finds the VM and pairs its disks with the point's by SCSI bus and unit. */
export async function previewOriginal(
  client: VsphereClient,
  inventory: Inventory,
  point: ResolvedPoint,
): Promise<{ preview: OriginalPreview; vm: MoRef; matched: Matched[] }> {
  const vmName = point.point.vmName;
  const candidates = inventory.vms.filter((vm) => vm.name === vmName);
  if (candidates.length === 0)
    throw new LifeboatError('not-found', `VM "${vmName}" is not in this vCenter; restore it to a new location instead`);
  if (candidates.length > 1)
    throw new LifeboatError('conflict', `${candidates.length} VMs are named "${vmName}"; the original cannot be told apart`);
  const vm = candidates[0] as (typeof candidates)[number];
  const disks = await client.vmDisks(vm.ref);
  const placements = placeDisks(point.disks, vmName);
  const matched = placements.map((placement): Matched => {
    const pointDisk = point.disks.find((disk) => disk.key === placement.key) as ResolvedDisk;
    const vmDisk = disks.find((disk) => disk.controllerBus === placement.controllerBus && disk.unitNumber === placement.unit);
    if (!vmDisk)
      throw new LifeboatError(
        'conflict',
        `VM ${vmName} has no disk at SCSI ${placement.controllerBus}:${placement.unit} for ${placement.key}; restore to a new location instead`,
      );
    if (vmDisk.capacity !== pointDisk.capacity) {
      throw new LifeboatError(
        'conflict',
        `disk ${vmDisk.fileName} of ${vmName} is ${vmDisk.capacity} bytes, the point's ${placement.key} is ${pointDisk.capacity}; restore to a new location instead`,
      );
    }
    return { point: pointDisk, vm: vmDisk, ...splitDatastorePath(vmDisk.fileName) };
  });
  const host = inventory.hosts.find((candidate) => candidate.ref.value === vm.host?.value);
  const preview: OriginalPreview = {
    vmName,
    hostSystem: host?.name ?? '',
    powerState: await client.powerState(vm.ref),
    disks: matched.map((disk) => ({
      key: disk.point.key,
      file: disk.vm.fileName,
      capacity: disk.vm.capacity,
      pointCapacity: disk.point.capacity,
    })),
    safetySnapshot: `lifeboat-safety-${new Date().toISOString().replace(/[:.]/g, '-')}`,
  };
  return { preview, vm: vm.ref, matched };
}

/** What initialization found, for every step after it: the VM, its disks paired with the
 * point's, what will be replaced, and the transport. */
type Found = {
  client: VsphereClient;
  point: ResolvedPoint;
  vm: MoRef;
  matched: Matched[];
  preview: OriginalPreview;
  datacenter: string;
  transport: TransportDecision;
};

export class OriginalVmVsphereRestore extends VsphereRestoreBase implements JobWork {
  static readonly plan = Plan.of<OriginalVmVsphereRestore>()
    .step('initialize', 'Initialization: find the VM, match its disks, choose the transport', (work, _none, context) =>
      work.initialize(context),
    )
    .step('restore-configuration', 'Keep the VM configuration; power the VM off', (_work, found, context) => powerOff(found, context))
    .step('create-snapshot', 'Create the safety snapshot (kept)', (work, found, context) => work.safetySnapshot(found, context))
    .step('transfer-disks', 'Roll the disks back', (work, found, context) => work.transferDisks(found, context))
    .step('commit-snapshot', 'Keep the safety snapshot for the operator', async (_work, found, context) => {
      context.log(`the safety snapshot ${found.preview.safetySnapshot} is kept; remove it once the VM is verified`);
      return skip(found);
    })
    .step('finalize', 'Finalize', async (work, _found, context) => {
      context.log(
        `rolled back ${work.totalBlocks - work.unchangedBlocks} of ${work.totalBlocks} blocks (${work.bytesWritten} bytes written); ${work.unchangedBlocks} were already as in the point`,
      );
    });
  readonly plan = OriginalVmVsphereRestore.plan.bind(this);
  // What result() reports.
  private point: ResolvedPoint | null = null;
  private preview: OriginalPreview | null = null;
  private snapshotTaken = false;
  private bytesWritten = 0;
  private unchangedBlocks = 0;
  private totalBlocks = 0;

  private async initialize(context: StepContext): Promise<Found> {
    const point = await resolvePoint(this.repository, this.request.vmId, this.request.pointId);
    this.point = point;
    const client = await this.connect();
    const inventory = await client.inventory();
    const { vm, matched, preview } = await previewOriginal(client, inventory, point);
    this.preview = preview;
    for (const disk of preview.disks)
      context.log(`will replace ${disk.file} (${disk.capacity} bytes) with ${disk.key} of point ${point.point.sequence}`);
    const datastores = [...new Set(matched.map((disk) => disk.datastore))];
    if (datastores.length > 1) context.log(`disks span ${datastores.join(', ')}; the transport is chosen for ${datastores[0]}`);
    const datastore = inventory.datastores.find((ds) => ds.name === datastores[0]);
    if (!datastore) throw new LifeboatError('not-found', `datastore ${datastores[0]} of ${preview.vmName} is not in the inventory`);
    const transport = this.useTransport(
      selectTransport({
        inventory,
        datastore,
        requested: this.request.target.transport ?? 'auto',
        thick: matched.every((disk) => !disk.vm.thin),
        host: this.request.target.host,
        proxies: this.localProxies(),
        context,
      }),
    );
    const { mode, proxy } = transport;
    context.log(
      `transport: ${transportTitle(mode)}${proxy ? ` through proxy ${proxy.name}: quick rollback, only differing blocks are written` : ': it cannot read the disks, so every block is written'}`,
    );
    context.resources.record('staging-folder', { path: this.staging });
    await mkdir(this.staging, { recursive: true });
    return { client, point, vm, matched, preview, datacenter: inventory.datacenters[0]?.name ?? '', transport };
  }

  private async safetySnapshot(found: Found, context: StepContext): Promise<Found> {
    const { client, vm } = found;
    const name = found.preview.safetySnapshot;
    await client.runTask(
      'CreateSnapshot_Task',
      vm,
      [
        el('name', name),
        el('description', 'taken by Lifeboat before an original-location restore; remove it once the VM is verified'),
        el('memory', false),
        el('quiesce', false),
      ],
      'create safety snapshot',
    );
    this.snapshotTaken = true;
    context.log(`safety snapshot ${name} created`);
    // Where ESXi moves the running disk to a delta, the flat files are the snapshot's now.
    const after = await client.vmDisks(vm);
    for (const disk of found.matched) {
      if (!after.some((candidate) => candidate.fileName === disk.vm.fileName)) {
        throw new LifeboatError(
          'unavailable',
          `after the safety snapshot ${disk.vm.fileName} is no longer the running disk (a delta disk took its place); Lifeboat writes flat disks only, so it stopped before changing anything`,
        );
      }
    }
    return found;
  }

  private async transferDisks(found: Found, context: StepContext): Promise<Found> {
    const { client, point, datacenter, transport } = found;
    const total = found.matched.reduce((sum, disk) => sum + disk.point.capacity, 0);
    let base = 0;
    context.progress(0, total);
    for (const disk of found.matched) {
      const folder = disk.path.includes('/') ? disk.path.slice(0, disk.path.lastIndexOf('/')) : '';
      const descriptor = parseDescriptor(await client.downloadText(datacenter, disk.datastore, disk.path), disk.vm.fileName);
      const extent = descriptor.extents[0];
      if (
        descriptor.parentCid !== NO_PARENT ||
        descriptor.extents.length !== 1 ||
        !extent?.fileName ||
        (extent.kind !== 'FLAT' && extent.kind !== 'VMFS')
      ) {
        throw new LifeboatError(
          'unavailable',
          `${disk.vm.fileName} is not a single flat extent (${descriptor.createType}); Lifeboat writes flat disks only`,
        );
      }
      const flatPath = folder ? `${folder}/${extent.fileName}` : extent.fileName;
      this.totalBlocks += disk.point.blockCount;
      const onProgress = (bytes: number): void => context.progress(base + bytes, total);
      const { proxy } = transport;
      if (!proxy) {
        // Over NBD nothing is read back: every byte of the disk is sent.
        const reader = pointDiskReader(point, disk.point.key, this.pool);
        await this.uploadDisk({ client, datacenter, datastore: disk.datastore, path: flatPath }, reader, context, onProgress);
        this.bytesWritten += disk.point.capacity;
      } else {
        const root = proxy.datastorePaths[disk.datastore];
        if (!root) throw new LifeboatError('unavailable', `proxy ${proxy.name} cannot see datastore ${disk.datastore}`);
        const local = join(root, flatPath);
        const outcome = await this.whileHotAdded(context, client, disk.vm.fileName, disk.vm.capacity, async () => {
          const rolledBack = await rollbackDiskInPlace({
            pool: this.pool,
            point,
            disk: disk.point,
            path: local,
            targetLabel: `datastore ${disk.datastore}`,
            context,
            onProgress,
          });
          await syncPath(local);
          return rolledBack;
        });
        this.bytesWritten += outcome.bytesWritten;
        this.unchangedBlocks += outcome.unchangedBlocks;
      }
      base += disk.point.capacity;
      context.progress(base, total);
      context.log(`${disk.vm.fileName} rolled back to ${disk.point.key} of point ${point.point.sequence}`);
    }
    return found;
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

/** The VM keeps its registration and configuration; it is powered off for the rollback. */
async function powerOff(found: Found, context: StepContext): Promise<Found> {
  const { client, vm, preview } = found;
  context.log(`original location: ${preview.vmName} keeps its registration and configuration; only its disks are rolled back`);
  if ((await client.powerState(vm)) === 'poweredOn') {
    await client.runTask('PowerOffVM_Task', vm, [], `power off ${preview.vmName}`);
    context.log(`${preview.vmName} powered off`);
  }
  return found;
}
