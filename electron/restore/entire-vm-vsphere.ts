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
import type { DatastoreInfo, Inventory, VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { el, moRefOf, moRefXml, type MoRef } from '../drivers/vsphere/xml.ts';
import { LifeboatError } from '../errors.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, skip, type Skipped, type StepContext } from '../jobs/plan.ts';
import { syncPath } from '../fs/durable.ts';
import { entireVmStepTitles } from './entire-vm-local.ts';
import { VsphereRestoreBase, type VsphereRestoreOptions } from './vsphere-restore-base.ts';
import { pointSource, type SourceDisk, type VmSource } from './vm-source.ts';
import { selectTransport, transportTitle, type ProxyPool, type TransportDecision } from './transport-choice.ts';
import { eligibleFor, type MoverHub } from '../movers/mover-hub.ts';
import {
  checkIdentityFree,
  checkNameFree,
  checkRoom,
  choosePlacement,
  disksOnDatastores,
  networkChooser,
  type DiskOnDatastore,
  nicNetworks,
  type Placement,
} from './vsphere-preflight.ts';
import { vmIdentity, vsphereUuid } from './vm-identity.ts';

/** What initialization found, for every step after it. */
type Prepared = {
  client: VsphereClient;
  source: VmSource;
  vmName: string;
  placement: Placement;
  disks: DiskPlacement[];
  /** Each disk's datastore, by disk key. */
  datastoreOf: (key: string) => DatastoreInfo;
  /** The network each NIC joins, by the network it was on. */
  network: (original: string | undefined) => string;
  thin: boolean;
  transport: TransportDecision;
  bytesTotal: number;
};
/** Once CreateVM registered the VM. */
type Created = Prepared & { vm: MoRef };
/** One disk written by a proxy (the engine's workers, or a data mover). */
type ProxyDiskWrite = {
  created: Created;
  proxy: ProxySummary;
  placed: DiskPlacement;
  disk: SourceDisk;
  flatName: string;
  progress: { context: StepContext; onProgress: (bytes: number) => void };
};
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
    .step('finalize', entireVmStepTitles.finalize, (work, created, context) => work.finalize(created, context));
  readonly plan = EntireVmVsphereRestore.plan.bind(this);
  private readonly openSource: () => Promise<VmSource>;
  // What finish() and result() need: the source to close, where the VM went, the VM to undo.
  private source: VmSource | null = null;
  private vmName = '';
  private placement: Placement | null = null;
  private disks: DiskPlacement[] = [];
  private diskDatastores: Record<string, string> = {};
  /** Folders made on other datastores than the VM's for its disks, removed if the restore fails. */
  private readonly diskFolders: string[] = [];
  private vm: MoRef | null = null;
  /** Whether the VM was powered on after the restore (null: not asked). */
  private poweredOn: boolean | null = null;
  /** The movers that carried each disk, by disk key (a reassignment lists both). */
  private readonly carriedBy: Record<string, string[]> = {};
  /** The mover that took over this restore's disks after a reassignment. */
  private carrier: string | null = null;

  constructor(options: VsphereRestoreOptions) {
    super(options);
    this.openSource = options.openSource ?? (() => pointSource(this.repository, this.pool, this.request.vmId, this.request.pointId));
  }

  private async initialize(context: StepContext): Promise<Prepared> {
    const source = await this.openSource();
    this.source = source;
    const vmName = this.request.newName ?? source.vmName;
    this.vmName = vmName;
    const client = await this.connect();
    context.log(`connected to ${this.request.target.host} (${client.soap.endpoint.url.origin})`);
    const inventory = await client.inventory();
    const { target } = this.request;
    // The same pre-flight restore.check runs (vsphere-preflight.ts): placement, name, room, networks.
    const placement = choosePlacement(inventory, target);
    this.placement = placement;
    checkNameFree(inventory, vmName, target.host);
    const thin = (target.diskFormat ?? 'thin') === 'thin';
    const onDatastores = disksOnDatastores(inventory, placement, target, source.disks);
    checkRoom(onDatastores, thin);
    const stores = new Map(onDatastores.map((disk) => [disk.key, disk.datastore]));
    const datastoreOf = (key: string): DatastoreInfo => stores.get(key) ?? placement.datastore;
    this.diskDatastores = Object.fromEntries(onDatastores.map((disk) => [disk.key, disk.datastore.name]));
    const vmx = parseVmx(source.vmxText, `${source.vmName} configuration`);
    checkIdentityFree(inventory, target, { name: source.vmName, uuid: vsphereUuid(vmx.uuid) });
    const network = networkChooser(
      placement,
      target,
      nicNetworks(vmx).map((nic) => nic.network),
    );
    const disks = placeDisks(source.disks, vmName);
    this.disks = disks;
    const proxies = source.point ? this.proxies : this.localProxies();
    const transport = this.chooseTransport(inventory, placement, onDatastores, thin, proxies, context);
    // Over NBD every byte of a disk is sent (holes too); a proxy writes the data only.
    const bytesTotal = source.disks.reduce((sum, disk) => sum + (transport.mode === 'nbd' ? disk.capacity : disk.dataBytes), 0);
    context.resources.record('staging-folder', { path: this.staging });
    await mkdir(this.staging, { recursive: true });
    context.log(
      `placement: host ${placement.host.name}, datastore ${placement.datastore.name} (${placement.datastore.type}), ${thin ? 'thin' : 'thick'} disks; data movers: ${transport.proxy && this.movers?.isMover(transport.proxy.name) ? `mover ${transport.proxy.name} on its proxy host` : `${this.pool.size} worker threads`}`,
    );
    return { client, source, vmName, placement, disks, datastoreOf, network, thin, transport, bytesTotal };
  }

  private chooseTransport(
    inventory: Inventory,
    placement: Placement,
    onDatastores: DiskOnDatastore[],
    thin: boolean,
    proxies: ProxyPool,
    context: StepContext,
  ): TransportDecision {
    const requested = this.request.target.transport ?? 'auto';
    const transport = this.useTransport(
      selectTransport({
        inventory,
        datastore: placement.datastore,
        // A proxy writes every disk: one that cannot see a disk's datastore would fail after CreateVM.
        alsoDatastores: onDatastores.map((disk) => disk.datastore),
        requested,
        thick: !thin,
        host: this.request.target.host,
        proxies,
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
    const annotation = vmAnnotation(this.jobId);
    const identity = vmIdentity(this.request.target.identity, vmx, (line) => context.log(line));
    const config = vmConfigSpec(vmx, prepared.disks, {
      name: vmName,
      datastore: placement.datastore.name,
      diskDatastore: (key) => prepared.datastoreOf(key).name,
      thin: prepared.thin,
      network: prepared.network,
      annotation,
      ...(identity ? { identity } : {}),
    });
    // Recorded first: if the engine dies after CreateVM, the janitor finds the VM by its annotation.
    context.resources.record('vsphere-vm', { host: this.request.target.host, name: vmName, annotation });
    await this.makeDiskFolders(prepared, context);
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

  /** A disk on another datastore than the VM's files goes into a folder of the VM's name there,
   * which CreateVM does not make; a failed restore removes it again (finish). */
  private async makeDiskFolders(prepared: Prepared, context: StepContext): Promise<void> {
    const { client, placement, vmName } = prepared;
    const elsewhere = new Set(
      prepared.disks.map((disk) => prepared.datastoreOf(disk.key).name).filter((name) => name !== placement.datastore.name),
    );
    for (const datastore of elsewhere) {
      const folder = `[${datastore}] ${vmName}`;
      await client.soap.call('MakeDirectory', client.content.fileManager, [
        el('name', folder),
        moRefXml('datacenter', placement.datacenter.ref),
        el('createParentDirectories', false),
      ]);
      this.diskFolders.push(folder);
      context.log(`folder ${folder} made for the disks placed there`);
    }
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
        bytesDone += await write.call(this, {
          created: snapshotted,
          proxy: transport.proxy,
          placed,
          disk,
          flatName,
          progress: { context, onProgress: (bytes) => context.progress(base + bytes, bytesTotal) },
        });
        continue;
      }
      const base = bytesDone;
      const datastore = snapshotted.datastoreOf(placed.key).name;
      await this.uploadDisk(
        { client, datacenter: placement.datacenter.name, datastore, path: `${vmName}/${flatName}` },
        source.openDisk(disk.key),
        context,
        (bytes) => context.progress(base + bytes, bytesTotal),
      );
      const descriptor = Buffer.from(writeFlatDescriptor(disk.capacity, flatName));
      const datastorePath = `${vmName}/${placed.fileName}`;
      await client.upload(placement.datacenter.name, datastore, datastorePath, Readable.from([descriptor]), descriptor.length);
      bytesDone += disk.capacity;
      context.progress(bytesDone, bytesTotal);
      context.log(
        `disk ${placed.key} written to [${datastore}] ${vmName}/${placed.fileName} (SCSI ${placed.controllerBus}:${placed.unit}) over NBD`,
      );
    }
    return snapshotted;
  }

  /** Direct SAN and HotAdd through a data mover (`lifeboat mover` on the proxy host): the engine
   * streams the point's stored blocks, the mover writes them where it sees the datastore; a mover
   * lost mid-disk hands it to another (a hot-added disk follows). The small descriptor goes over
   * the host's file service. Returns the bytes written. */
  private async writeThroughMover({ created, proxy, placed, disk, flatName, progress }: ProxyDiskWrite): Promise<number> {
    const { client, placement, source, vmName, transport } = created;
    const { context } = progress;
    const movers = this.movers as MoverHub;
    const point = source.point;
    const resolved = point?.disks.find((candidate) => candidate.key === disk.key);
    if (!point || !resolved)
      throw new LifeboatError('internal', `data mover ${proxy.name} was chosen for a disk that is not one of a backup's`);
    const datastore = created.datastoreOf(placed.key).name;
    const datastorePath = `[${datastore}] ${vmName}/${placed.fileName}`;
    const usual = eligibleFor(transport.mode, datastore);
    const host = this.request.target.host;
    const asProxy = (name: string): ProxySummary | undefined => movers.proxiesOf(host).find((candidate) => candidate.name === name);
    const proxyVmOf = (name: string): string | null => asProxy(name)?.proxyVm ?? null;
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
        eligible: (mover) => {
          const candidate = asProxy(mover.name);
          if (!candidate) return `is not a connected mover of host ${host}`;
          return usual(mover) ?? (transport.mode === 'hotadd' && !candidate.proxyVm ? 'has no proxy VM for HotAdd' : null);
        },
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
  private async writeThroughProxy({ created, proxy, placed, disk, flatName, progress }: ProxyDiskWrite): Promise<number> {
    const { client, source, vmName, transport } = created;
    const { context } = progress;
    const datastore = created.datastoreOf(placed.key).name;
    const datastorePath = `[${datastore}] ${vmName}/${placed.fileName}`;
    const seen = proxy.datastorePaths[datastore];
    if (seen === undefined)
      throw new LifeboatError(
        'unavailable',
        `proxy ${proxy.name} has no datastore path for ${datastore}; add one, or restore this disk over NBD`,
      );
    const folder = join(seen, vmName);
    try {
      await access(join(folder, flatName));
    } catch {
      throw new LifeboatError(
        'unavailable',
        `proxy ${proxy.name} does not see ${datastorePath} at ${folder}; check its datastore path for ${datastore}`,
      );
    }
    const written = await this.whileHotAdded(context, client, datastorePath, disk.capacity, async () => {
      const bytes = await source.writeDisk(disk.key, join(folder, flatName), {
        replace: true,
        targetLabel: `datastore ${datastore}`,
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
    const folders = succeeded ? [] : this.diskFolders;
    const datacenter = this.placement?.datacenter.ref;
    await this.release(async (client) => {
      if (vm) await client.runTask('Destroy_Task', vm, [], `remove half-restored VM ${this.vmName}`);
      for (const folder of datacenter ? folders : []) {
        await client
          .runTask(
            'DeleteDatastoreFile_Task',
            client.content.fileManager,
            [el('name', folder), moRefXml('datacenter', datacenter as MoRef)],
            `remove ${folder}`,
          )
          .catch(() => undefined);
      }
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
      disks: this.disks.map(
        (disk) => `[${this.diskDatastores[disk.key] ?? this.placement?.datastore.name}] ${this.vmName}/${disk.fileName}`,
      ),
      identity: this.request.target.identity ?? null,
      poweredOn: this.poweredOn,
    };
  }

  private async finalize(created: Created, context: StepContext): Promise<void> {
    await checkDisks(created, context);
    if (this.request.target.powerOn) this.poweredOn = await powerOn(created, context);
  }
}

/** Powers the restored VM on. A failure is a warning: the restore itself succeeded, and the
 * job's result says the VM is off. */
async function powerOn(created: Created, context: StepContext): Promise<boolean> {
  try {
    await created.client.runTask('PowerOnVM_Task', created.vm, [], `power on ${created.vmName}`);
    context.log(`VM ${created.vmName} powered on`);
    return true;
  } catch (error) {
    context.log(`the restore succeeded, but VM ${created.vmName} did not power on: ${(error as Error).message}`, 'warning');
    return false;
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

async function checkDisks(created: Created, context: StepContext): Promise<void> {
  const disks = await created.client.vmDisks(created.vm);
  if (disks.length !== created.disks.length)
    throw new LifeboatError('unavailable', `the restored VM shows ${disks.length} disks, ${created.disks.length} were restored`);
  context.log(`VM ${created.vmName} has its ${disks.length} disk(s): ${disks.map((disk) => disk.fileName).join(', ')}`);
}
