// Entire VM restore to vSphere, in the seed's phases: initialization (host, datastore, network,
// transport, data movers, vCenter session), VM configuration restored and registered by
// CreateVM, a snapshot (not on VVOL), disk transport, snapshot commit, finalization. A failure
// or cancel destroys the half-made VM; the source VM is never touched.
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProxySummary } from '../../shared/domain.ts';
import { writeFlatDescriptor } from '../disks/vmdk-descriptor.ts';
import { parseVmx } from '../disks/vmx.ts';
import { placeDisks, vmAnnotation, vmConfigSpec, type DiskPlacement } from '../drivers/vsphere/config-spec.ts';
import type { DatastoreInfo, HostInfo, Inventory, VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { el, moRefOf, moRefXml, type MoRef } from '../drivers/vsphere/xml.ts';
import { LifeboatError } from '../errors.ts';
import type { LegacyJobWork } from '../jobs/job-work.ts';
import type { StepContext } from '../jobs/plan.ts';
import { syncPath } from '../fs/durable.ts';
import { restoreSteps } from './entire-vm-local.ts';
import { VsphereRestoreBase, type VsphereRestoreOptions } from './vsphere-restore-base.ts';
import { pointSource, type SourceDisk, type VmSource } from './vm-source.ts';
import { selectTransport, transportTitle } from './transport-choice.ts';


type Placement = { datacenter: { ref: MoRef; name: string; vmFolder: MoRef }; host: HostInfo; datastore: DatastoreInfo; pool: MoRef; networks: string[] };

export class EntireVmVsphereRestore extends VsphereRestoreBase implements LegacyJobWork {
  readonly steps = restoreSteps;
  private source: VmSource | null = null;
  private readonly openSource: () => Promise<VmSource>;
  private placement: Placement | null = null;
  private disks: DiskPlacement[] = [];
  private vmName = '';
  private thin = true;
  private vm: MoRef | null = null;
  private snapshot: MoRef | null = null;
  private bytesTotal = 0;
  private bytesDone = 0;

  constructor(options: VsphereRestoreOptions) {
    super(options);
    this.openSource = options.openSource ?? (() => pointSource(this.repository, this.pool, this.request.vmId, this.request.pointId));
  }

  async run(step: string, context: StepContext): Promise<'done' | 'skipped' | void> {
    switch (step) {
      case 'initialize':
        return this.initialize(context);
      case 'restore-configuration':
        return this.restoreConfiguration(context);
      case 'create-snapshot':
        return this.createSnapshot(context);
      case 'transfer-disks':
        return this.transferDisks(context);
      case 'commit-snapshot':
        return this.commitSnapshot(context);
      case 'finalize':
        return this.finalize(context);
    }
    throw new LifeboatError('internal', `restore has no step ${step}`);
  }

  private choosePlacement(inventory: Inventory): Placement {
    const { target } = this.request;
    const hosts = inventory.hosts.filter((host) => host.connected && (!target.hostSystem || host.name === target.hostSystem));
    if (hosts.length === 0) {
      throw new LifeboatError('not-found', target.hostSystem ? `no connected ESXi host "${target.hostSystem}" in ${target.host}` : `${target.host} has no connected ESXi host`);
    }
    const visible = (host: HostInfo): DatastoreInfo[] =>
      inventory.datastores.filter((ds) => ds.accessible && host.datastores.some((ref) => ref.value === ds.ref.value) && (!target.datastore || ds.name === target.datastore));
    const host = hosts.find((candidate) => visible(candidate).length > 0);
    if (!host) throw new LifeboatError('not-found', target.datastore ? `datastore "${target.datastore}" does not exist or no chosen host can reach it` : 'no datastore is reachable from the chosen host');
    const datastore = visible(host).sort((a, b) => b.freeSpace - a.freeSpace)[0] as DatastoreInfo;
    const pool = inventory.computeResources.find((resource) => resource.ref.value === host.parent.value)?.resourcePool;
    if (!pool) throw new LifeboatError('not-found', `ESXi host ${host.name} has no resource pool`);
    const datacenter = inventory.datacenters[0];
    if (!datacenter) throw new LifeboatError('not-found', `${target.host} has no datacenter`);
    const networks = inventory.networks.filter((network) => host.networks.some((ref) => ref.value === network.ref.value)).map((network) => network.name);
    return { datacenter, host, datastore, pool, networks };
  }

  private async initialize(context: StepContext): Promise<void> {
    const source = await this.openSource();
    this.source = source;
    this.vmName = this.request.newName ?? source.vmName;
    this.client = await this.connectHost(this.request.target.host);
    context.log(`connected to ${this.request.target.host} (${this.client.soap.endpoint.url.origin})`);
    const inventory = await this.client.inventory();
    const placement = this.choosePlacement(inventory);
    this.placement = placement;
    if (inventory.vms.some((vm) => vm.name === this.vmName)) {
      throw new LifeboatError('conflict', `a VM named "${this.vmName}" already exists in ${this.request.target.host}; choose another name (--name)`);
    }
    this.thin = (this.request.target.diskFormat ?? 'thin') === 'thin';
    const provisioned = source.disks.reduce((sum, disk) => sum + disk.capacity, 0);
    const needed = this.thin ? source.disks.reduce((sum, disk) => sum + disk.dataBytes, 0) : provisioned;
    if (placement.datastore.freeSpace < needed) {
      throw new LifeboatError('target-full', `datastore ${placement.datastore.name} has ${placement.datastore.freeSpace} bytes free; the VM needs ${needed} (${this.thin ? 'thin' : 'thick'})`);
    }
    this.disks = placeDisks(source.disks, this.vmName);
    this.chooseTransport(inventory, placement, context);
    const uploadBytes = this.transport.mode === 'nbd' ? source.disks.reduce((sum, disk) => sum + disk.capacity, 0) : 0;
    this.bytesTotal = source.disks.reduce((sum, disk) => sum + disk.dataBytes, 0) + uploadBytes;
    context.resources.record('staging-folder', { path: this.staging });
    await mkdir(this.staging, { recursive: true });
    context.log(`placement: host ${placement.host.name}, datastore ${placement.datastore.name} (${placement.datastore.type}), ${this.thin ? 'thin' : 'thick'} disks; data movers: ${this.pool.size} worker threads`);
  }

  private chooseTransport(inventory: Inventory, placement: Placement, context: StepContext): void {
    const requested = this.request.target.transport ?? 'auto';
    this.useTransport(selectTransport({ inventory, datastore: placement.datastore, requested, thick: !this.thin, host: this.request.target.host, proxies: this.proxies, context }));
    const { mode, proxy } = this.transport;
    context.log(`transport: ${transportTitle(mode)}${proxy ? ` through proxy ${proxy.name}` : ' from this engine over the host\'s HTTP file service'} (${requested === 'auto' ? 'chosen automatically' : 'requested'})`);
  }

  private async restoreConfiguration(context: StepContext): Promise<void> {
    const client = this.client as VsphereClient;
    const source = this.source as VmSource;
    const placement = this.placement as Placement;
    const vmx = parseVmx(source.vmxText, `${source.vmName} configuration`);
    const requested = this.request.target.network;
    if (requested && !placement.networks.includes(requested)) throw new LifeboatError('not-found', `network "${requested}" is not available on host ${placement.host.name}`);
    const network = (original: string | undefined): string => requested ?? (original && placement.networks.includes(original) ? original : (placement.networks[0] ?? 'VM Network'));
    const annotation = vmAnnotation(this.jobId);
    const config = vmConfigSpec(vmx, this.disks, { name: this.vmName, datastore: placement.datastore.name, thin: this.thin, network, annotation });
    // Recorded first: if the engine dies after CreateVM, the janitor finds the VM by its annotation.
    context.resources.record('vsphere-vm', { host: this.request.target.host, name: this.vmName, annotation });
    const task = moRefOf(await client.soap.call('CreateVM_Task', placement.datacenter.vmFolder, [config, moRefXml('pool', placement.pool), moRefXml('host', placement.host.ref)]));
    this.vm = moRefOf(await client.waitForTask(task, `create VM ${this.vmName}`));
    context.log(`VM ${this.vmName} created and registered on ${placement.host.name} (${this.vm.value})`);
  }

  private async createSnapshot(context: StepContext): Promise<'done' | 'skipped'> {
    const placement = this.placement as Placement;
    if (placement.datastore.type.toUpperCase() === 'VVOL') {
      context.log(`no snapshot: ${placement.datastore.name} is a VVOL datastore`);
      return 'skipped';
    }
    const client = this.client as VsphereClient;
    this.snapshot = moRefOf(
      await client.runTask('CreateSnapshot_Task', this.vm as MoRef, [el('name', 'lifeboat-restore'), el('description', 'taken by Lifeboat during restore'), el('memory', false), el('quiesce', false)], 'create snapshot'),
    );
    context.log(`snapshot ${this.snapshot.value} created`);
    return 'done';
  }

  private async transferDisks(context: StepContext): Promise<void> {
    const client = this.client as VsphereClient;
    const source = this.source as VmSource;
    const placement = this.placement as Placement;
    context.progress(0, this.bytesTotal);
    for (const placed of this.disks) {
      const disk = source.disks.find((candidate) => candidate.key === placed.key);
      if (!disk) continue;
      const flatName = placed.fileName.replace(/\.vmdk$/, '-flat.vmdk');
      if (this.transport.mode !== 'nbd') {
        await this.writeThroughProxy(placed, disk, flatName, context);
        continue;
      }
      const local = join(this.staging, flatName);
      const base = this.bytesDone;
      this.bytesDone += await source.writeDisk(disk.key, local, {
        replace: false, targetLabel: `staging folder ${this.staging}`, context,
        onProgress: (bytes) => context.progress(base + bytes, this.bytesTotal),
      });
      const descriptor = join(this.staging, placed.fileName);
      await writeFile(descriptor, writeFlatDescriptor(disk.capacity, flatName));
      const sending = performance.now();
      await client.uploadFile(placement.datacenter.name, placement.datastore.name, `${this.vmName}/${flatName}`, local);
      context.busy('network', (performance.now() - sending) / 1000);
      await client.uploadFile(placement.datacenter.name, placement.datastore.name, `${this.vmName}/${placed.fileName}`, descriptor);
      this.bytesDone += disk.capacity;
      context.progress(this.bytesDone, this.bytesTotal);
      await rm(local, { force: true });
      context.log(`disk ${placed.key} written to [${placement.datastore.name}] ${this.vmName}/${placed.fileName} (SCSI ${placed.controllerBus}:${placed.unit}) over NBD`);
    }
  }

  /** Direct SAN and HotAdd: the proxy writes the disk where it sees the datastore's blocks. */
  private async writeThroughProxy(placed: DiskPlacement, disk: SourceDisk, flatName: string, context: StepContext): Promise<void> {
    const placement = this.placement as Placement;
    const proxy = this.transport.proxy as ProxySummary;
    const source = this.source as VmSource;
    const datastorePath = `[${placement.datastore.name}] ${this.vmName}/${placed.fileName}`;
    const folder = join(proxy.datastorePaths[placement.datastore.name] as string, this.vmName);
    try {
      await access(join(folder, flatName));
    } catch {
      throw new LifeboatError('unavailable', `proxy ${proxy.name} does not see ${datastorePath} at ${folder}; check its datastore path for ${placement.datastore.name}`);
    }
    if (this.transport.mode === 'hotadd') await this.hotAdd(context, datastorePath, disk.capacity);
    const base = this.bytesDone;
    this.bytesDone += await source.writeDisk(disk.key, join(folder, flatName), {
      replace: true, targetLabel: `datastore ${placement.datastore.name}`, context,
      onProgress: (bytes) => context.progress(base + bytes, this.bytesTotal),
    });
    await syncPath(join(folder, flatName));
    await writeFile(join(folder, placed.fileName), writeFlatDescriptor(disk.capacity, flatName));
    if (this.transport.mode === 'hotadd') await this.detach(context, datastorePath);
    context.log(`disk ${placed.key} written to ${datastorePath} (SCSI ${placed.controllerBus}:${placed.unit}) over ${transportTitle(this.transport.mode)}`);
  }

  private async commitSnapshot(context: StepContext): Promise<'done' | 'skipped'> {
    if (!this.snapshot) return 'skipped';
    await (this.client as VsphereClient).runTask('RemoveSnapshot_Task', this.snapshot, [el('removeChildren', false), el('consolidate', true)], 'commit snapshot');
    context.log(`snapshot ${this.snapshot.value} committed`);
    this.snapshot = null;
    return 'done';
  }

  private async finalize(context: StepContext): Promise<void> {
    const disks = await (this.client as VsphereClient).vmDisks(this.vm as MoRef);
    if (disks.length !== this.disks.length) throw new LifeboatError('unavailable', `the restored VM shows ${disks.length} disks, ${this.disks.length} were restored`);
    context.log(`VM ${this.vmName} has its ${disks.length} disk(s): ${disks.map((disk) => disk.fileName).join(', ')}`);
  }

  async finish(succeeded: boolean): Promise<void> {
    await this.source?.close();
    // The half-made VM goes, with its files and any snapshot; if that fails, the janitor retries.
    const vm = succeeded ? null : this.vm;
    await this.release(async (client) => {
      if (vm) await client.runTask('Destroy_Task', vm, [], `remove half-restored VM ${this.vmName}`);
    });
  }

  result(): Record<string, unknown> {
    return {
      vmName: this.vmName,
      pointId: this.request.pointId,
      host: this.request.target.host,
      hostSystem: this.placement?.host.name ?? null,
      datastore: this.placement?.datastore.name ?? null,
      vm: this.vm?.value ?? null,
      transport: this.transport.mode,
      proxy: this.transport.proxy?.name ?? null,
      disks: this.disks.map((disk) => `[${this.placement?.datastore.name}] ${this.vmName}/${disk.fileName}`),
    };
  }
}
