// What every restore to vSphere shares: the session, the staging folder, the transport with its
// proxy slot, and disks hot-added to the proxy VM, all given back when the job ends. Each restore
// declares its own plan (a static plan is not inherited); its steps call these helpers.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { VsphereTarget } from '../../shared/domain.ts';
import type { Disk } from '../disks/disk.ts';
import { diskBody } from '../drivers/vsphere/disk-upload.ts';
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import type { MoRef } from '../drivers/vsphere/xml.ts';
import type { StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import type { Repository } from '../repository/repository.ts';
import type { WorkerPool } from '../workers/pool.ts';
import type { MoverHub } from '../movers/mover-hub.ts';
import type { ProxyPool, SelectedTransport, TransportDecision } from './transport-choice.ts';
import type { VmSource } from './vm-source.ts';

export type VsphereRestoreRequest = { vmId: string; pointId: string; target: VsphereTarget; newName?: string | undefined };

export type VsphereRestoreOptions = {
  repository: Repository;
  pool: WorkerPool;
  connectHost: (name: string) => Promise<VsphereClient>;
  proxies: ProxyPool;
  /** The engine's data movers (a proxy that is one carries the disks), null without them. */
  movers: MoverHub | null;
  stagingRoot: string;
  jobId: string;
  request: VsphereRestoreRequest;
  /** Where the VM comes from (default: the request's point of `repository`). */
  openSource?: () => Promise<VmSource>;
};

export abstract class VsphereRestoreBase {
  protected readonly repository: Repository;
  protected readonly pool: WorkerPool;
  private readonly connectHost: (name: string) => Promise<VsphereClient>;
  protected readonly proxies: ProxyPool;
  protected readonly movers: MoverHub | null;
  protected readonly staging: string;
  protected readonly jobId: string;
  protected readonly request: VsphereRestoreRequest;
  private client: VsphereClient | null = null;
  protected transport: TransportDecision = { mode: 'nbd', proxy: null, reasons: [] };
  private releaseProxy: (() => void) | null = null;
  private proxyVm: MoRef | null = null;
  private attached: string[] = [];

  constructor(options: VsphereRestoreOptions) {
    this.repository = options.repository;
    this.pool = options.pool;
    this.connectHost = options.connectHost;
    this.proxies = options.proxies;
    this.movers = options.movers;
    this.staging = join(options.stagingRoot, options.jobId);
    this.jobId = options.jobId;
    this.request = options.request;
  }

  /** Logs in to the target's vCenter; the session is kept to be given back by release(). */
  protected async connect(): Promise<VsphereClient> {
    const client = await this.connectHost(this.request.target.host);
    this.client = client;
    return client;
  }

  /** The proxies whose disks this engine's own workers write. A data mover only writes a
   * backup's stored blocks: it reads nothing back (a quick rollback compares) and cannot copy a
   * VM folder (a storage clone). */
  protected localProxies(): ProxyPool {
    const movers = this.movers;
    if (!movers) return this.proxies;
    return { ...this.proxies, forHost: (host) => this.proxies.forHost(host).filter((proxy) => !movers.isMover(proxy.name)) };
  }

  /** Takes the transport chosen, holding its proxy slot until release(); returns its decision. */
  protected useTransport(selected: SelectedTransport): TransportDecision {
    this.transport = selected.decision;
    this.releaseProxy = selected.release;
    this.proxyVm = selected.proxyVm;
    return selected.decision;
  }

  /** Runs `write` on a disk the proxy reaches. With HotAdd the disk is recorded for the janitor,
   * attached to the proxy VM for the write and detached after it (a failed write leaves it
   * attached for release() to detach); Direct SAN needs no attaching. */
  protected async whileHotAdded<T>(
    context: StepContext,
    client: VsphereClient,
    datastorePath: string,
    capacity: number,
    write: () => Promise<T>,
  ): Promise<T> {
    if (!this.proxyVm) return write();
    await this.hotAdd(context, client, datastorePath, capacity, this.proxyVm, this.transport.proxy?.proxyVm ?? '');
    const written = await write();
    // The disk may have moved to another mover's proxy VM meanwhile (moveHotAdded).
    await client.detachDisk(this.proxyVm, datastorePath);
    this.attached = this.attached.filter((path) => path !== datastorePath);
    context.log(`disk ${datastorePath} detached from proxy VM ${this.proxyVmName}`);
    return written;
  }

  private proxyVmName = '';

  private async hotAdd(
    context: StepContext,
    client: VsphereClient,
    datastorePath: string,
    capacity: number,
    proxyVm: MoRef,
    name: string,
  ): Promise<void> {
    context.resources.record('vsphere-hot-added-disk', { host: this.request.target.host, proxyVm: name, path: datastorePath });
    await client.attachDisk(proxyVm, datastorePath, capacity);
    this.attached.push(datastorePath);
    this.proxyVmName = name;
    context.log(`disk ${datastorePath} hot-added to proxy VM ${name}`);
  }

  /** HotAdd through data movers: the disk follows its task to another mover's proxy VM (detached
   * from the old one first, so no two VMs hold it). Nothing to do without HotAdd. */
  protected async moveHotAdded(
    context: StepContext,
    client: VsphereClient,
    datastorePath: string,
    capacity: number,
    proxyVmName: string | null,
  ): Promise<void> {
    if (!this.proxyVm) return;
    if (!proxyVmName) throw new LifeboatError('unavailable', `the mover that takes over ${datastorePath} has no proxy VM to hot-add it to`);
    const target = (await client.inventory()).vms.find((vm) => vm.name === proxyVmName);
    if (!target) throw new LifeboatError('not-found', `proxy VM ${proxyVmName} is not in the inventory`);
    await client.detachDisk(this.proxyVm, datastorePath);
    this.attached = this.attached.filter((path) => path !== datastorePath);
    context.log(`disk ${datastorePath} detached from proxy VM ${this.proxyVmName}`);
    this.proxyVm = target.ref;
    await this.hotAdd(context, client, datastorePath, capacity, target.ref, proxyVmName);
  }

  /** NBD: sends a disk's bytes, read in order from `reader` (which it closes), as the flat file at
   * `path` of the datastore; the time it takes counts as the network stage. */
  protected async uploadDisk(
    target: { client: VsphereClient; datacenter: string; datastore: string; path: string },
    reader: Disk,
    context: StepContext,
    onProgress: (bytes: number) => void,
  ): Promise<void> {
    const sending = performance.now();
    try {
      await target.client.upload(
        target.datacenter,
        target.datastore,
        target.path,
        diskBody(reader, context.signal, onProgress),
        reader.capacity,
        context.signal,
      );
    } finally {
      await reader.close();
    }
    context.busy('network', (performance.now() - sending) / 1000);
  }

  /** Gives back staging, the proxy slot and hot-added disks, whatever fails first; `undo` runs
   * before logging out. */
  protected async release(undo?: (client: VsphereClient) => Promise<void>): Promise<void> {
    try {
      await rm(this.staging, { recursive: true, force: true });
    } finally {
      // Whatever failed before: the proxy slot goes back and the host is left as it should be.
      this.releaseProxy?.();
      this.releaseProxy = null;
      await this.leaveHost(undo);
    }
  }

  private async leaveHost(undo?: (client: VsphereClient) => Promise<void>): Promise<void> {
    const client = this.client;
    if (!client) return;
    // A disk still hot-added to the proxy is detached before anything else.
    const proxyVm = this.proxyVm;
    if (proxyVm) for (const path of this.attached) await client.detachDisk(proxyVm, path).catch(() => undefined);
    this.attached = [];
    try {
      await undo?.(client);
    } finally {
      await client.logout();
    }
  }
}
