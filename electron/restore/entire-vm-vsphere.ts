// Entire VM restore to vSphere, in the seed's phases: initialization (host, datastore, network,
// transport, data movers, vCenter session), VM configuration restored and registered by
// CreateVM, a snapshot (not on VVOL), disk transport, snapshot commit, finalization. A failure
// or cancel destroys the half-made VM; the source VM is never touched.
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ProxySummary } from '../../shared/domain.ts';
import { writeFlatDescriptor } from '../disks/vmdk-descriptor.ts';
import { parseVmx } from '../disks/vmx.ts';
import { placeDisks, vmAnnotation, vmConfigSpec, type DiskPlacement } from '../drivers/vsphere/config-spec.ts';
import type { DatastoreInfo, HostInfo, Inventory, VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { el, moRefOf, moRefXml, type MoRef } from '../drivers/vsphere/xml.ts';
import { LifeboatError } from '../errors.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, skip, type Skipped, type StepContext } from '../jobs/plan.ts';
import { syncPath } from '../fs/durable.ts';
import { entireVmStepTitles } from './entire-vm-local.ts';
import { VsphereRestoreBase, type VsphereRestoreOptions } from './vsphere-restore-base.ts';
import { pointSource, type SourceDisk, type VmSource } from './vm-source.ts';
import { selectTransport, transportTitle, type TransportDecision } from './transport-choice.ts';
import { eligibleFor, type MoverHub } from '../movers/mover-hub.ts';

type Placement = {
  datacenter: { ref: MoRef; name: string; vmFolder: MoRef };
  host: HostInfo;
  datastore: DatastoreInfo;
  pool: MoRef;
  networks: string[];
};

/** What initialization found, for every step after it. */
type Prepared = {
  client: VsphereClient;
  source: VmSource;
  vmName: string;
  placement: Placement;
  disks: DiskPlacement[];
  thin: boolean;
  transport: TransportDecision;
  bytesTotal: number;
};
/** Once CreateVM registered the VM. */
type Created = Prepared & { vm: MoRef };
/** The restore snapshot, none on a VVOL datastore. */
type Snapshotted = Created & { snapshot: MoRef | null };

export class EntireVmVsphereRestore extends VsphereRestoreBase implements JobWork {
  static readonly plan = Plan.of<EntireVmVsphereRestore>()
    .step('initialize', entireVmStepTitles.initialize, (work, _none, context) => work.initialize(context))
    .step('restore-configuration', entireVmStepTitles['restore-configuration'], (work, prepared, context) =>
      work.restoreConfiguration(prepared, context),
    )
    .step('create-snapshot', entireVmStepTitles['create-snapshot'], (_work, created, context) => createSnapshot(created, context))
    .step('transfer-disks', entireVmStepTitles['transfer-disks'], (work, snapshotted, context) => work.transferDisks(snapshotted, context))
    .step('commit-snapshot', entireVmStepTitles['commit-snapshot'], (_work, snapshotted, context) => commitSnapshot(snapshotted, context))
    .step('finalize', entireVmStepTitles.finalize, (_work, created, context) => finalize(created, context));
  readonly plan = EntireVmVsphereRestore.plan.bind(this);
  private readonly openSource: () => Promise<VmSource>;
  // What finish() and result() need: the source to close, where the VM went, the VM to undo.
  private source: VmSource | null = null;
  private vmName = '';
  private placement: Placement | null = null;
  private disks: DiskPlacement[] = [];
  private vm: MoRef | null = null;
  /** The movers that carried each disk, by disk key (a reassignment lists both). */
  private readonly carriedBy: Record<string, string[]> = {};
  /** The mover that took over this restore's disks after a reassignment. */
  private carrier: string | null = null;

  constructor(options: VsphereRestoreOptions) {
    super(options);
    this.openSource = options.openSource ?? (() => pointSource(this.repository, this.pool, this.request.vmId, this.request.pointId));
  }

  private choosePlacement(inventory: Inventory): Placement {
    const { target } = this.request;
    const hosts = inventory.hosts.filter((host) => host.connected && (!target.hostSystem || host.name === target.hostSystem));
    if (hosts.length === 0) {
      throw new LifeboatError(
        'not-found',
        target.hostSystem ? `no connected ESXi host "${target.hostSystem}" in ${target.host}` : `${target.host} has no connected ESXi host`,
      );
    }
    const visible = (host: HostInfo): DatastoreInfo[] =>
      inventory.datastores.filter(
        (ds) =>
          ds.accessible && host.datastores.some((ref) => ref.value === ds.ref.value) && (!target.datastore || ds.name === target.datastore),
      );
    const host = hosts.find((candidate) => visible(candidate).length > 0);
    if (!host)
      throw new LifeboatError(
        'not-found',
        target.datastore
          ? `datastore "${target.datastore}" does not exist or no chosen host can reach it`
          : 'no datastore is reachable from the chosen host',
      );
    const datastore = visible(host).sort((a, b) => b.freeSpace - a.freeSpace)[0] as DatastoreInfo;
    const pool = inventory.computeResources.find((resource) => resource.ref.value === host.parent.value)?.resourcePool;
    if (!pool) throw new LifeboatError('not-found', `ESXi host ${host.name} has no resource pool`);
    const datacenter = inventory.datacenters[0];
    if (!datacenter) throw new LifeboatError('not-found', `${target.host} has no datacenter`);
    const networks = inventory.networks
      .filter((network) => host.networks.some((ref) => ref.value === network.ref.value))
      .map((network) => network.name);
    return { datacenter, host, datastore, pool, networks };
  }

  private async initialize(context: StepContext): Promise<Prepared> {
    const source = await this.openSource();
    this.source = source;
    const vmName = this.request.newName ?? source.vmName;
    this.vmName = vmName;
    const client = await this.connect();
    context.log(`connected to ${this.request.target.host} (${client.soap.endpoint.url.origin})`);
    const inventory = await client.inventory();
    const placement = this.choosePlacement(inventory);
    this.placement = placement;
    if (inventory.vms.some((vm) => vm.name === vmName)) {
      throw new LifeboatError(
        'conflict',
        `a VM named "${vmName}" already exists in ${this.request.target.host}; choose another name (--name)`,
      );
    }
    const thin = (this.request.target.diskFormat ?? 'thin') === 'thin';
    const provisioned = source.disks.reduce((sum, disk) => sum + disk.capacity, 0);
    const needed = thin ? source.disks.reduce((sum, disk) => sum + disk.dataBytes, 0) : provisioned;
    if (placement.datastore.freeSpace < needed) {
      throw new LifeboatError(
        'target-full',
        `datastore ${placement.datastore.name} has ${placement.datastore.freeSpace} bytes free; the VM needs ${needed} (${thin ? 'thin' : 'thick'})`,
      );
    }
    const disks = placeDisks(source.disks, vmName);
    this.disks = disks;
    const transport = this.chooseTransport(inventory, placement, thin, context);
    // Over NBD every byte of a disk is sent (holes too); a proxy writes the data only.
    const bytesTotal = source.disks.reduce((sum, disk) => sum + (transport.mode === 'nbd' ? disk.capacity : disk.dataBytes), 0);
    context.resources.record('staging-folder', { path: this.staging });
    await mkdir(this.staging, { recursive: true });
    context.log(
      `placement: host ${placement.host.name}, datastore ${placement.datastore.name} (${placement.datastore.type}), ${thin ? 'thin' : 'thick'} disks; data movers: ${transport.proxy && this.movers?.isMover(transport.proxy.name) ? `mover ${transport.proxy.name} on its proxy host` : `${this.pool.size} worker threads`}`,
    );
    return { client, source, vmName, placement, disks, thin, transport, bytesTotal };
  }

  private chooseTransport(inventory: Inventory, placement: Placement, thin: boolean, context: StepContext): TransportDecision {
    const requested = this.request.target.transport ?? 'auto';
    const transport = this.useTransport(
      selectTransport({
        inventory,
        datastore: placement.datastore,
        requested,
        thick: !thin,
        host: this.request.target.host,
        proxies: this.proxies,
        context,
      }),
    );
    const { mode, proxy } = transport;
    context.log(
      `transport: ${transportTitle(mode)}${proxy ? ` through proxy ${proxy.name}` : " from this engine over the host's HTTP file service"} (${requested === 'auto' ? 'chosen automatically' : 'requested'})`,
    );
    return transport;
  }

  private async restoreConfiguration(prepared: Prepared, context: StepContext): Promise<Created> {
    const { client, source, placement, vmName } = prepared;
    const vmx = parseVmx(source.vmxText, `${source.vmName} configuration`);
    const requested = this.request.target.network;
    if (requested && !placement.networks.includes(requested))
      throw new LifeboatError('not-found', `network "${requested}" is not available on host ${placement.host.name}`);
    const network = (original: string | undefined): string =>
      requested ?? (original && placement.networks.includes(original) ? original : (placement.networks[0] ?? 'VM Network'));
    const annotation = vmAnnotation(this.jobId);
    const config = vmConfigSpec(vmx, prepared.disks, {
      name: vmName,
      datastore: placement.datastore.name,
      thin: prepared.thin,
      network,
      annotation,
    });
    // Recorded first: if the engine dies after CreateVM, the janitor finds the VM by its annotation.
    context.resources.record('vsphere-vm', { host: this.request.target.host, name: vmName, annotation });
    const task = moRefOf(
      await client.soap.call('CreateVM_Task', placement.datacenter.vmFolder, [
        config,
        moRefXml('pool', placement.pool),
        moRefXml('host', placement.host.ref),
      ]),
    );
    const vm = moRefOf(await client.waitForTask(task, `create VM ${vmName}`));
    this.vm = vm;
    context.log(`VM ${vmName} created and registered on ${placement.host.name} (${vm.value})`);
    return { ...prepared, vm };
  }

  private async transferDisks(snapshotted: Snapshotted, context: StepContext): Promise<Snapshotted> {
    const { client, source, placement, vmName, transport, bytesTotal } = snapshotted;
    let bytesDone = 0;
    context.progress(0, bytesTotal);
    for (const placed of snapshotted.disks) {
      const disk = source.disks.find((candidate) => candidate.key === placed.key);
      if (!disk) continue;
      const flatName = placed.fileName.replace(/\.vmdk$/, '-flat.vmdk');
      if (transport.proxy) {
        const base = bytesDone;
        const write = this.movers?.isMover(transport.proxy.name) ? this.writeThroughMover : this.writeThroughProxy;
        bytesDone += await write.call(this, snapshotted, transport.proxy, placed, disk, flatName, {
          context,
          onProgress: (bytes) => context.progress(base + bytes, bytesTotal),
        });
        continue;
      }
      const base = bytesDone;
      await this.uploadDisk(
        { client, datacenter: placement.datacenter.name, datastore: placement.datastore.name, path: `${vmName}/${flatName}` },
        source.openDisk(disk.key),
        context,
        (bytes) => context.progress(base + bytes, bytesTotal),
      );
      const descriptor = Buffer.from(writeFlatDescriptor(disk.capacity, flatName));
      const datastorePath = `${vmName}/${placed.fileName}`;
      await client.upload(
        placement.datacenter.name,
        placement.datastore.name,
        datastorePath,
        Readable.from([descriptor]),
        descriptor.length,
      );
      bytesDone += disk.capacity;
      context.progress(bytesDone, bytesTotal);
      context.log(
        `disk ${placed.key} written to [${placement.datastore.name}] ${vmName}/${placed.fileName} (SCSI ${placed.controllerBus}:${placed.unit}) over NBD`,
      );
    }
    return snapshotted;
  }

  /** Direct SAN and HotAdd through a data mover (`lifeboat mover` on the proxy host): the engine
   * streams the point's stored blocks, the mover writes them where it sees the datastore; a mover
   * lost mid-disk hands it to another (a hot-added disk follows). The small descriptor goes over
   * the host's file service. Returns the bytes written. */
  private async writeThroughMover(
    created: Created,
    proxy: ProxySummary,
    placed: DiskPlacement,
    disk: SourceDisk,
    flatName: string,
    progress: { context: StepContext; onProgress: (bytes: number) => void },
  ): Promise<number> {
    const { client, placement, source, vmName, transport } = created;
    const { context } = progress;
    const movers = this.movers as MoverHub;
    const point = source.point;
    const resolved = point?.disks.find((candidate) => candidate.key === disk.key);
    if (!point || !resolved)
      throw new LifeboatError('bad-request', `proxy ${proxy.name} is a data mover: it restores disks of backups, not of a VM folder`);
    const datastore = placement.datastore.name;
    const datastorePath = `[${datastore}] ${vmName}/${placed.fileName}`;
    const usual = eligibleFor(transport.mode, datastore);
    const proxyVmOf = (name: string): string | null =>
      movers.proxiesOf(this.request.target.host).find((candidate) => candidate.name === name)?.proxyVm ?? null;
    const written = await this.whileHotAdded(context, client, datastorePath, disk.capacity, async () => {
      const result = await movers.writeDisk({
        jobId: this.jobId,
        context,
        point,
        disk: resolved,
        datastore,
        path: `${vmName}/${flatName}`,
        // vSphere made a placeholder flat file; the mover replaces it.
        create: true,
        first: this.carrier ?? proxy.name,
        eligible: (mover) => usual(mover) ?? (transport.mode === 'hotadd' && !proxyVmOf(mover.name) ? 'has no proxy VM for HotAdd' : null),
        onProgress: progress.onProgress,
        onReassign: async (_from, to) => {
          this.carrier = to;
          await this.moveHotAdded(context, client, datastorePath, disk.capacity, proxyVmOf(to));
        },
      });
      this.carriedBy[placed.key] = result.carriedBy;
      return result.bytes;
    });
    const descriptor = Buffer.from(writeFlatDescriptor(disk.capacity, flatName));
    await client.upload(
      placement.datacenter.name,
      datastore,
      `${vmName}/${placed.fileName}`,
      Readable.from([descriptor]),
      descriptor.length,
    );
    context.log(
      `disk ${placed.key} written to ${datastorePath} (SCSI ${placed.controllerBus}:${placed.unit}) over ${transportTitle(transport.mode)}, carried by mover ${(this.carriedBy[placed.key] ?? []).join(' → ')}`,
    );
    return written;
  }

  /** Direct SAN and HotAdd: the proxy writes the disk where it sees the datastore's blocks;
   * returns the bytes written. */
  private async writeThroughProxy(
    created: Created,
    proxy: ProxySummary,
    placed: DiskPlacement,
    disk: SourceDisk,
    flatName: string,
    progress: { context: StepContext; onProgress: (bytes: number) => void },
  ): Promise<number> {
    const { client, placement, source, vmName, transport } = created;
    const { context } = progress;
    const datastorePath = `[${placement.datastore.name}] ${vmName}/${placed.fileName}`;
    const folder = join(proxy.datastorePaths[placement.datastore.name] as string, vmName);
    try {
      await access(join(folder, flatName));
    } catch {
      throw new LifeboatError(
        'unavailable',
        `proxy ${proxy.name} does not see ${datastorePath} at ${folder}; check its datastore path for ${placement.datastore.name}`,
      );
    }
    const written = await this.whileHotAdded(context, client, datastorePath, disk.capacity, async () => {
      const bytes = await source.writeDisk(disk.key, join(folder, flatName), {
        replace: true,
        targetLabel: `datastore ${placement.datastore.name}`,
        ...progress,
      });
      await syncPath(join(folder, flatName));
      await writeFile(join(folder, placed.fileName), writeFlatDescriptor(disk.capacity, flatName));
      return bytes;
    });
    context.log(
      `disk ${placed.key} written to ${datastorePath} (SCSI ${placed.controllerBus}:${placed.unit}) over ${transportTitle(transport.mode)}`,
    );
    return written;
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
      movers: this.carriedBy,
      disks: this.disks.map((disk) => `[${this.placement?.datastore.name}] ${this.vmName}/${disk.fileName}`),
    };
  }
}

/** A snapshot of the new VM while its disks are written (not on VVOL, which has none). */
async function createSnapshot(created: Created, context: StepContext): Promise<Snapshotted | Skipped<Snapshotted>> {
  const { placement } = created;
  if (placement.datastore.type.toUpperCase() === 'VVOL') {
    context.log(`no snapshot: ${placement.datastore.name} is a VVOL datastore`);
    return skip({ ...created, snapshot: null });
  }
  const snapshot = moRefOf(
    await created.client.runTask(
      'CreateSnapshot_Task',
      created.vm,
      [el('name', 'lifeboat-restore'), el('description', 'taken by Lifeboat during restore'), el('memory', false), el('quiesce', false)],
      'create snapshot',
    ),
  );
  context.log(`snapshot ${snapshot.value} created`);
  return { ...created, snapshot };
}

async function commitSnapshot(snapshotted: Snapshotted, context: StepContext): Promise<Created | Skipped<Created>> {
  const { snapshot, ...created } = snapshotted;
  if (!snapshot) return skip(created);
  await created.client.removeSnapshot(snapshot, 'commit snapshot');
  context.log(`snapshot ${snapshot.value} committed`);
  return created;
}

async function finalize(created: Created, context: StepContext): Promise<void> {
  const disks = await created.client.vmDisks(created.vm);
  if (disks.length !== created.disks.length)
    throw new LifeboatError('unavailable', `the restored VM shows ${disks.length} disks, ${created.disks.length} were restored`);
  context.log(`VM ${created.vmName} has its ${disks.length} disk(s): ${disks.map((disk) => disk.fileName).join(', ')}`);
}
