// What every restore to vSphere shares: the session, the staging folder, the transport with its
// proxy slot, and disks hot-added to the proxy VM, all given back when the job ends.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { VsphereTarget } from '../../shared/domain.ts';
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import type { MoRef } from '../drivers/vsphere/xml.ts';
import type { StepContext } from '../jobs/plan.ts';
import type { Repository } from '../repository/repository.ts';
import type { WorkerPool } from '../workers/pool.ts';
import type { ProxyPool, SelectedTransport, TransportDecision } from './transport-choice.ts';
import type { VmSource } from './vm-source.ts';

export type VsphereRestoreRequest = { vmId: string; pointId: string; target: VsphereTarget; newName?: string | undefined };

export type VsphereRestoreOptions = {
  repository: Repository;
  pool: WorkerPool;
  connectHost: (name: string) => Promise<VsphereClient>;
  proxies: ProxyPool;
  stagingRoot: string;
  jobId: string;
  request: VsphereRestoreRequest;
  /** Where the VM comes from (default: the request's point of `repository`). */
  openSource?: () => Promise<VmSource>;
};

export abstract class VsphereRestoreBase {
  protected readonly repository: Repository;
  protected readonly pool: WorkerPool;
  protected readonly connectHost: (name: string) => Promise<VsphereClient>;
  protected readonly proxies: ProxyPool;
  protected readonly staging: string;
  protected readonly jobId: string;
  protected readonly request: VsphereRestoreRequest;
  protected client: VsphereClient | null = null;
  protected transport: TransportDecision = { mode: 'nbd', proxy: null, reasons: [] };
  private releaseProxy: (() => void) | null = null;
  private proxyVm: MoRef | null = null;
  private attached: string[] = [];

  constructor(options: VsphereRestoreOptions) {
    this.repository = options.repository;
    this.pool = options.pool;
    this.connectHost = options.connectHost;
    this.proxies = options.proxies;
    this.staging = join(options.stagingRoot, options.jobId);
    this.jobId = options.jobId;
    this.request = options.request;
  }

  protected useTransport(selected: SelectedTransport): void {
    this.transport = selected.decision;
    this.releaseProxy = selected.release;
    this.proxyVm = selected.proxyVm;
  }

  /** HotAdd: the disk is recorded for the janitor, then attached to the proxy VM. */
  protected async hotAdd(context: StepContext, datastorePath: string, capacity: number): Promise<void> {
    context.resources.record('vsphere-hot-added-disk', { host: this.request.target.host, proxyVm: this.transport.proxy?.proxyVm ?? '', path: datastorePath });
    await (this.client as VsphereClient).attachDisk(this.proxyVm as MoRef, datastorePath, capacity);
    this.attached.push(datastorePath);
    context.log(`disk ${datastorePath} hot-added to proxy VM ${this.transport.proxy?.proxyVm}`);
  }

  protected async detach(context: StepContext, datastorePath: string): Promise<void> {
    await (this.client as VsphereClient).detachDisk(this.proxyVm as MoRef, datastorePath);
    this.attached = this.attached.filter((path) => path !== datastorePath);
    context.log(`disk ${datastorePath} detached from proxy VM ${this.transport.proxy?.proxyVm}`);
  }

  /** Gives back staging, the proxy slot and hot-added disks; `undo` runs before logging out. */
  protected async release(undo?: (client: VsphereClient) => Promise<void>): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
    this.releaseProxy?.();
    this.releaseProxy = null;
    const client = this.client;
    if (!client) return;
    // A disk still hot-added to the proxy is detached before anything else.
    for (const path of this.attached) await client.detachDisk(this.proxyVm as MoRef, path).catch(() => undefined);
    this.attached = [];
    try {
      await undo?.(client);
    } finally {
      await client.logout();
    }
  }
}
