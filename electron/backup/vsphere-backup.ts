// Backup of a VM where it runs, on a vCenter or ESXi host, in a backup product's steps: the VM
// and the chain are found and each disk's transport chosen; a snapshot is taken (recorded first,
// so a crash leaves it to the janitor); the snapshot's frozen configuration and disks are read
// (NBD over the host's file service, Direct SAN or HotAdd through a proxy's view of the
// datastore); the snapshot is removed; the point is committed. A failure or cancel removes the
// snapshot, detaches what was hot-added, and commits nothing.
import { join } from 'node:path';
import type { TransportMode } from '../../shared/domain.ts';
import { changedBlocksSince, enableChangeTracking } from '../drivers/vsphere/changed-areas.ts';
import { openDatastoreDisk } from '../drivers/vsphere/datastore-disk.ts';
import { VsphereFault } from '../drivers/vsphere/soap-client.ts';
import { findVm, readVmConfig, snapshotBlocker, type VsphereVmConfig, type VsphereVmDisk } from '../drivers/vsphere/vm-config.ts';
import type { Inventory, VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { el, moRefOf, type MoRef } from '../drivers/vsphere/xml.ts';
import { openDiskChain, type OpenedChain } from '../disks/vmdk-chain.ts';
import { isErrnoCode, LifeboatError } from '../errors.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, throwIfCancelled, type StepContext } from '../jobs/plan.ts';
import { killPoint } from '../kill-point.ts';
import type { Manifest } from '../repository/manifest.ts';
import { diskCapacityProblem } from '../repository/manifest-check.ts';
import { selectTransport, transportTitle, type ProxyPool, type SelectedTransport } from '../restore/transport-choice.ts';
import { PointWriter, type PointOrigin, type PointWriterOptions } from './point-writer.ts';
import { vmIdFor } from '../disks/vm-folder.ts';

export type VsphereBackupRequest = { host: string; vm: string; transport: TransportMode; quiesce: boolean };

export type VsphereBackupOptions = PointWriterOptions & {
  jobId: string;
  request: VsphereBackupRequest;
  /** The VM id the job was submitted for: a VM whose identity changed since is refused. */
  vmId: string;
  connectHost: (name: string) => Promise<VsphereClient>;
  proxies: ProxyPool;
  onCommitted: (manifest: Manifest, source: PointOrigin) => void;
};

/** What the service gives for one backup; the engine adds what every backup shares. */
export type VsphereBackupJob = Omit<VsphereBackupOptions, 'pool' | 'auditHead' | 'connectHost' | 'proxies'>;

/** The VM found, its live configuration, the host's inventory (for transports), and whether
 * the VM tracks changed blocks. */
type Found = { client: VsphereClient; vm: MoRef; config: VsphereVmConfig; inventory: Inventory; changeTracking: boolean };
/** …and the backup snapshot taken. */
type Snapshotted = Found & { snapshot: MoRef };
/** …and the snapshot's frozen configuration. */
type Frozen = Snapshotted & { frozen: VsphereVmConfig };

export function vsphereSourceOf(host: string, vm: string): string {
  return `vsphere:${host}/${vm}`;
}

export function backupSnapshotName(jobId: string): string {
  return `lifeboat-backup-${jobId}`;
}

export class VsphereBackupWork implements JobWork {
  static readonly plan = Plan.of<VsphereBackupWork>()
    .step('initialize', 'Initialization: connect to the host, find the VM, choose transports, find the chain', (work, _none, context) =>
      work.initialize(context),
    )
    .step('create-snapshot', 'Create the VM snapshot', (work, found, context) => work.createSnapshot(found, context))
    .step('read-configuration', 'Read the VM configuration', (work, snapshotted, context) => work.readConfiguration(snapshotted, context))
    .step('transfer-disks', 'Read disks, keep changed blocks', (work, frozen, context) => work.transferDisks(frozen, context))
    .step('remove-snapshot', 'Remove the VM snapshot', (work, frozen, context) => work.removeSnapshot(frozen, context))
    .step('commit-point', 'Commit the restore point', (work, frozen, context) => work.commit(frozen, context));
  readonly plan = VsphereBackupWork.plan.bind(this);
  private readonly options: VsphereBackupOptions;
  private readonly writer: PointWriter;
  // What finish() gives back: the session, proxy slots, a hot-added disk, the snapshot.
  private client: VsphereClient | null = null;
  private readonly transports = new Map<string, SelectedTransport>();
  private hotAdded: { proxyVm: MoRef; path: string } | null = null;
  private snapshot: MoRef | null = null;

  constructor(options: VsphereBackupOptions) {
    this.options = options;
    this.writer = new PointWriter(options);
  }

  private get host(): string {
    return this.options.request.host;
  }

  private get snapshotName(): string {
    return backupSnapshotName(this.options.jobId);
  }

  private async initialize(context: StepContext): Promise<Found> {
    const { request } = this.options;
    const client = await this.options.connectHost(request.host);
    this.client = client;
    context.log(`connected to ${request.host} (${client.soap.endpoint.url.origin})`);
    const vm = await findVm(client, request.vm);
    const config = await readVmConfig(client, vm);
    const vmId = vmIdFor(config.name, config.uuid ?? config.name);
    if (vmId !== this.options.vmId)
      throw new LifeboatError(
        'conflict',
        `VM ${config.name} on ${request.host} is no longer the VM this backup was started for (its BIOS UUID changed)`,
      );
    const blocker = snapshotBlocker(config);
    if (blocker) throw new LifeboatError('invalid-source', `VM ${config.name} on ${request.host} cannot be backed up: ${blocker}`);
    for (const disk of config.disks) {
      const problem = diskCapacityProblem(disk.capacity);
      if (problem)
        throw new LifeboatError('invalid-source', `disk ${disk.key} of ${config.name} ([${disk.datastore}] ${disk.path}): ${problem}`);
    }
    const inventory = await client.inventory();
    for (const disk of config.disks) this.transportFor(disk, inventory, context);
    const capacity = config.disks.reduce((sum, disk) => sum + disk.capacity, 0);
    context.log(`VM ${config.name} (${config.powerState}): ${config.disks.length} disk(s), ${capacity} bytes`);
    await this.writer.findChain(vmId, config.name, context);
    const changeTracking = await this.changeTracking(client, vm, config, context);
    return { client, vm, config, inventory, changeTracking };
  }

  /** CBT is turned on before the snapshot (a change id exists only for a snapshot taken with it
   * on); a host without it has every block read, and only changed ones kept. */
  private async changeTracking(client: VsphereClient, vm: MoRef, config: VsphereVmConfig, context: StepContext): Promise<boolean> {
    if (config.changeTracking) {
      context.log('Changed Block Tracking is on: disks with a change id in the last point are read where they changed');
      return true;
    }
    if (await enableChangeTracking(client, vm)) {
      context.log('Changed Block Tracking turned on: this backup reads every block, the next ones only what changed');
      return true;
    }
    context.log(
      "the host does not offer Changed Block Tracking for this VM: every block is read, only changed ones kept (as a folder's backup)",
    );
    return false;
  }

  /** Which blocks of a disk to read: the host's changed areas since the parent's change id, or
   * (null) every block, with the log line saying why. */
  private async changedBlocks(frozen: Frozen, disk: VsphereVmDisk, context: StepContext): Promise<Uint8Array | null> {
    if (!frozen.changeTracking) return null;
    const previousChangeId = this.writer.previousChangeId(disk.key, disk.capacity);
    if (this.writer.parentPoint === null) {
      context.log(`disk ${disk.key}: no earlier point, every block is read; change id ${disk.changeId ?? '(none)'} recorded`);
      return null;
    }
    const changed = await changedBlocksSince({
      client: frozen.client,
      vm: frozen.vm,
      snapshot: frozen.snapshot,
      deviceKey: disk.deviceKey,
      capacity: disk.capacity,
      blockSize: this.writer.blockSize,
      previousChangeId,
      currentChangeId: disk.changeId,
    });
    if ('fallback' in changed) {
      context.log(`disk ${disk.key}: ${changed.fallback}`, 'warning');
      return null;
    }
    context.log(
      `disk ${disk.key}: Changed Block Tracking: ${changed.changedBytes} bytes changed since change id ${previousChangeId}, only those are read`,
    );
    return changed.mask;
  }

  /** The transport of a disk's datastore, chosen once per datastore (its proxy slot held until
   * finish); what was passed over is said in the log. Reads take thick and thin disks alike. */
  private transportFor(disk: VsphereVmDisk, inventory: Inventory, context: StepContext): SelectedTransport {
    const chosen = this.transports.get(disk.datastore);
    if (chosen) return chosen;
    const datastore = inventory.datastores.find((candidate) => candidate.name === disk.datastore);
    if (!datastore)
      throw new LifeboatError('not-found', `datastore ${disk.datastore} of disk ${disk.key} is not in ${this.host}'s inventory`);
    const { transport: requested } = this.options.request;
    const selected = selectTransport({
      inventory,
      datastore,
      requested,
      thick: true,
      host: this.host,
      proxies: this.options.proxies,
      context,
    });
    this.transports.set(disk.datastore, selected);
    const { mode, proxy } = selected.decision;
    context.log(
      `transport for datastore ${disk.datastore}: ${transportTitle(mode)}${proxy ? ` through proxy ${proxy.name}` : " from this engine over the host's HTTP file service"} (${requested === 'auto' ? 'chosen automatically' : 'requested'})`,
    );
    return selected;
  }

  private async createSnapshot(found: Found, context: StepContext): Promise<Snapshotted> {
    const { client, vm, config } = found;
    const name = this.snapshotName;
    // Recorded first: if the engine dies once the snapshot exists, the janitor finds it by name.
    context.resources.record('vsphere-snapshot', { host: this.host, vm: config.name, snapshot: name });
    const { quiesce } = this.options.request;
    const snapshot = moRefOf(
      await client.runTask(
        'CreateSnapshot_Task',
        vm,
        [el('name', name), el('description', 'taken by Lifeboat for a backup'), el('memory', false), el('quiesce', quiesce)],
        `snapshot ${config.name} for backup`,
      ),
    );
    this.snapshot = snapshot;
    killPoint('backup-snapshot-created');
    context.log(`snapshot ${name} (${snapshot.value}) created${quiesce ? ', quiesced' : ''}`);
    return { ...found, snapshot };
  }

  private async readConfiguration(snapshotted: Snapshotted, context: StepContext): Promise<Frozen> {
    const frozen = await readVmConfig(snapshotted.client, snapshotted.vm, snapshotted.snapshot);
    await this.writer.start(context);
    context.log(`configuration ${frozen.vmxFile} (${frozen.vmxText.length} bytes) as the snapshot froze it`);
    return { ...snapshotted, frozen };
  }

  private async transferDisks(frozen: Frozen, context: StepContext): Promise<Frozen> {
    const total = frozen.frozen.disks.reduce((sum, disk) => sum + disk.capacity, 0);
    let before = 0;
    context.progress(0, total);
    for (const disk of frozen.frozen.disks) {
      throwIfCancelled(context.signal);
      const selected = this.transportFor(disk, frozen.inventory, context);
      const onlyBlocks = await this.changedBlocks(frozen, disk, context);
      await this.readDisk(frozen, disk, { selected, onlyBlocks }, context, (done) => context.progress(before + done, total));
      before += disk.capacity;
    }
    return frozen;
  }

  /** One disk of the snapshot through its transport, scanned into the point. */
  private async readDisk(
    frozen: Frozen,
    disk: VsphereVmDisk,
    how: { selected: SelectedTransport; onlyBlocks: Uint8Array | null },
    context: StepContext,
    progress: (bytesDone: number) => void,
  ): Promise<void> {
    const { client } = frozen;
    const { selected, onlyBlocks } = how;
    const { mode, proxy } = selected.decision;
    const datastorePath = `[${disk.datastore}] ${disk.path}`;
    const scan = async (opened: OpenedChain): Promise<void> => {
      try {
        await this.writer.writeDisk(
          { key: disk.key, fileName: disk.fileName, ...opened, onlyBlocks, changeId: disk.changeId },
          context,
          progress,
        );
      } finally {
        await opened.disk.close().catch(() => undefined);
      }
      context.log(`disk ${disk.key} read from ${datastorePath} over ${transportTitle(mode)}`);
    };
    if (!proxy) {
      await scan(
        await openDatastoreDisk(
          client,
          { datacenter: frozen.frozen.datacenter, datastore: disk.datastore, path: disk.path },
          context.signal,
        ),
      );
      return;
    }
    const local = join(proxy.datastorePaths[disk.datastore] as string, disk.path);
    if (!selected.proxyVm) {
      await scan(await this.openOnProxy(local, proxy.name, datastorePath));
      return;
    }
    const proxyVm = selected.proxyVm;
    context.resources.record('vsphere-hot-added-disk', { host: this.host, proxyVm: proxy.proxyVm ?? '', path: datastorePath });
    await client.attachDisk(proxyVm, datastorePath, disk.capacity);
    this.hotAdded = { proxyVm, path: datastorePath };
    context.log(`disk ${datastorePath} hot-added to proxy VM ${proxy.proxyVm}`);
    await scan(await this.openOnProxy(local, proxy.name, datastorePath));
    await client.detachDisk(proxyVm, datastorePath);
    this.hotAdded = null;
    context.log(`disk ${datastorePath} detached from proxy VM ${proxy.proxyVm}`);
  }

  private async openOnProxy(local: string, proxyName: string, datastorePath: string): Promise<OpenedChain> {
    try {
      return await openDiskChain(local);
    } catch (error) {
      if (!isErrnoCode(error, 'ENOENT')) throw error;
      throw new LifeboatError('unavailable', `proxy ${proxyName} does not see ${datastorePath} at ${local}; check its datastore path`, {
        cause: error,
      });
    }
  }

  private async removeSnapshot(frozen: Frozen, context: StepContext): Promise<Frozen> {
    await this.dropSnapshot(frozen.client);
    context.log(`snapshot ${this.snapshotName} removed`);
    return frozen;
  }

  /** Removes the backup snapshot, consolidating what the VM wrote since into its disks. */
  private async dropSnapshot(client: VsphereClient): Promise<void> {
    const snapshot = this.snapshot;
    if (!snapshot) return;
    await client.removeSnapshot(snapshot, `remove snapshot ${this.snapshotName}`);
    this.snapshot = null;
  }

  private async commit(frozen: Frozen, context: StepContext): Promise<void> {
    const { frozen: config } = frozen;
    const manifest = await this.writer.commit({ fileName: config.vmxFile, text: config.vmxText }, context);
    this.options.onCommitted(manifest, { source: vsphereSourceOf(this.host, config.name), biosUuid: config.uuid });
  }

  /** Gives back everything, whatever failed: the partial point, a hot-added disk, the snapshot
   * (if its removal fails the error stands, and the janitor retries from the record), the
   * proxy slots and the session. */
  async finish(): Promise<void> {
    try {
      await this.writer.close();
    } finally {
      // The decisions stay for result(); the slots go back.
      for (const selected of this.transports.values()) selected.release?.();
      await this.leaveVm();
    }
  }

  /** Detaches a hot-added disk, removes the backup's snapshot and logs out. */
  private async leaveVm(): Promise<void> {
    const client = this.client;
    if (!client) return;
    try {
      const hotAdded = this.hotAdded;
      if (hotAdded) await client.detachDisk(hotAdded.proxyVm, hotAdded.path).catch(() => undefined);
      this.hotAdded = null;
      await this.dropSnapshot(client).catch((error: unknown) => {
        // A VM deleted mid-backup takes its snapshots with it: nothing is left to remove.
        if (!(error instanceof VsphereFault && error.fault === 'ManagedObjectNotFound')) throw error;
      });
    } finally {
      await client.logout();
    }
  }

  result(): Record<string, unknown> {
    const modes = [...this.transports.values()].map((selected) => selected.decision.mode);
    return { ...this.writer.result(), host: this.host, transports: [...new Set(modes)] };
  }
}
