// Quick migration of a running Instant Recovery session to a production datastore. While the
// VM keeps running from the backup, an entire-VM restore of the same point writes a copy of it
// to production through a proxy (SAN or HotAdd). At switchover the VM is powered off, only the
// chunks the guest wrote (the session's write cache) are written into the copy, the session's
// VM is unregistered and the copy takes its name and is powered on; then the session ends.
// Until the copy runs, a failure leaves the session running as it was.
import { open } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ProxySummary } from '../../shared/domain.ts';
import { findVmByPath, powerOn, registerVm, renameVm } from '../drivers/vsphere/nas-datastore.ts';
import type { MoRef } from '../drivers/vsphere/xml.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, quietHooks, type StepContext } from '../jobs/plan.ts';
import { LifeboatError, toWireError } from '../errors.ts';
import { CHUNK, type OverlayVolume } from '../nfs/volume.ts';
import { placeOnHost, powerOffSessionVm, unregisterSessionVm, vmxPathOf } from './host-side.ts';
import type { SessionHost } from './session-host.ts';
import { SessionJob } from './session-job.ts';

/** The guest's chunks are written in runs of at most this many bytes. */
const RUN_BYTES = 8 * 1024 * 1024;

export type MigrationRequest = { datastore: string; transport: 'auto' | 'san' | 'hotadd' };

export type MigrationDeps = {
  /** An entire-VM restore of the session's point to vSphere, run here as the copy. */
  copyWork(request: {
    vmId: string;
    pointId: string;
    host: string;
    hostSystem: string | null;
    datastore: string;
    transport: MigrationRequest['transport'];
    newName: string;
  }): JobWork;
  proxyNamed(name: string): ProxySummary | null;
};

/** What the copy's restore reports (its result). */
type CopyResult = { vmName: string; datastore: string; vm: string | null; transport: string; proxy: string | null; disks: string[] };
/** The copy once written: on a proxy, and registered as a VM. */
type Copied = CopyResult & { proxy: string; vm: string };
/** The session's export, checked at initialization: the switchover reads the guest's chunks from it. */
type Served = { volume: OverlayVolume };
/** The production copy written while the session still serves the VM. */
type Written = Served & { copied: Copied };

export class QuickMigrationWork extends SessionJob implements JobWork {
  static readonly plan = Plan.of<QuickMigrationWork>()
    .step('initialize', 'Initialization: production datastore and proxy', (work, _none, context) =>
      work.noteFailure(work.initialize(context)),
    )
    .step('copy-disks', 'Copy the VM to production from the backup while it runs', (work, served, context) =>
      work.noteFailure(work.copyDisks(served, context)),
    )
    .step('switchover', "Switch over: the VM stopped, the guest's changes written, the production copy started", (work, written, context) =>
      work.noteFailure(work.switchover(written, context)),
    )
    .step('stop-session', 'Unmount the NFS datastore and delete the write cache', (work, _none, context) =>
      work.noteFailure(work.stopSession(context)),
    );
  readonly plan = QuickMigrationWork.plan.bind(this);
  private readonly request: MigrationRequest;
  private readonly deps: MigrationDeps;
  private copy: JobWork | null = null;
  private copied: Copied | null = null;
  /** How far the switchover got, so a failure can put the session's VM back. */
  private sessionVmOff = false;
  private sessionVmUnregistered = false;
  private productionOn = false;
  private failure = '';

  constructor(sessions: SessionHost, sessionId: string, request: MigrationRequest, deps: MigrationDeps) {
    super(sessions, sessionId);
    this.request = request;
    this.deps = deps;
  }

  /** Keeps why a step failed, for the session's note when finish() puts the VM back. */
  private async noteFailure<T>(step: Promise<T>): Promise<T> {
    try {
      return await step;
    } catch (error) {
      this.failure = toWireError(error).message;
      throw error;
    }
  }

  private async initialize(context: StepContext): Promise<Served> {
    const record = this.record;
    if (this.request.datastore === record.datastore)
      throw new LifeboatError('bad-request', `${record.datastore} is the session's own NFS datastore; migrate to a production datastore`);
    const inventory = await (await this.host()).inventory();
    if (!inventory.datastores.some((datastore) => datastore.name === this.request.datastore))
      throw new LifeboatError('not-found', `datastore "${this.request.datastore}" does not exist in ${record.host}`);
    const volume = this.sessions.volumeOf(this.sessionId);
    if (!volume) throw new LifeboatError('conflict', `session ${record.id.slice(0, 8)} is not served by this engine`);
    context.log(
      `migrating ${record.name} from ${record.datastore} to ${this.request.datastore}; the VM keeps running until the switchover`,
    );
    return { volume };
  }

  private async copyDisks(served: Served, context: StepContext): Promise<Written> {
    const record = this.record;
    const copy = this.deps.copyWork({
      vmId: record.vmId,
      pointId: record.pointId,
      host: record.host,
      hostSystem: record.hostSystem,
      datastore: this.request.datastore,
      transport: this.request.transport,
      newName: `${record.name}-migrating-${record.id.slice(0, 4)}`,
    });
    this.copy = copy;
    const copyResult = (): CopyResult => copy.result() as CopyResult;
    await copy.plan.run(context, {
      ...quietHooks,
      afterStep: (step) => {
        if (step === 'initialize' && !copyResult().proxy) {
          throw new LifeboatError(
            'conflict',
            `quick migration writes the guest's changes into the copy at switchover, which needs a SAN or HotAdd proxy for ${this.request.datastore}; NBD cannot write part of a disk`,
          );
        }
      },
    });
    const result = copyResult();
    if (!result.proxy || !result.vm)
      throw new LifeboatError('internal', `the copy ${result.vmName} has no ${result.proxy ? 'VM' : 'proxy'}`);
    const copied: Copied = { ...result, proxy: result.proxy, vm: result.vm };
    this.copied = copied;
    context.log(`copy ${copied.vmName} written to ${this.request.datastore} over ${copied.transport} through proxy ${copied.proxy}`);
    return { ...served, copied };
  }

  private async switchover({ volume, copied }: Written, context: StepContext): Promise<void> {
    const record = this.record;
    const client = await this.host();
    const vmxPath = await vmxPathOf(record);
    const stopped = Date.now();
    this.sessionVmOff = await powerOffSessionVm(client, vmxPath, record.name);
    const proxy = this.deps.proxyNamed(copied.proxy);
    const folder = proxy?.datastorePaths[copied.datastore];
    if (!proxy || !folder) throw new LifeboatError('unavailable', `proxy ${copied.proxy} no longer sees datastore ${copied.datastore}`);
    const proxyVm =
      copied.transport === 'hotadd' ? ((await client.inventory()).vms.find((vm) => vm.name === proxy.proxyVm)?.ref ?? null) : null;
    let written = 0;
    for (const [index, disk] of volume.disks().entries()) {
      const descriptorPath = copied.disks[index];
      if (!descriptorPath) throw new LifeboatError('internal', `the copy has no disk ${index + 1}`);
      if (proxyVm) await client.attachDisk(proxyVm, descriptorPath, disk.size);
      try {
        written += await writeGuestChunks(
          volume,
          disk,
          join(folder, copied.vmName, basename(descriptorPath).replace(/\.vmdk$/, '-flat.vmdk')),
        );
      } finally {
        if (proxyVm) await client.detachDisk(proxyVm, descriptorPath);
      }
    }
    context.log(`${written} bytes the guest wrote applied to the copy`);
    this.sessionVmUnregistered = await unregisterSessionVm(client, vmxPath);
    const production = { type: 'VirtualMachine', value: copied.vm } satisfies MoRef;
    await renameVm(client, production, record.name);
    await powerOn(client, production, record.name);
    this.productionOn = true;
    context.log(`${record.name} runs from ${copied.datastore}; it was off for ${((Date.now() - stopped) / 1000).toFixed(2)} s`);
  }

  private async stopSession(context: StepContext): Promise<void> {
    await this.copy?.finish(true);
    this.copy = null;
    await this.sessions.tearDown(this.sessionId, this.client, 'migrated', `migrated to ${this.request.datastore}`);
    context.log(`NFS datastore ${this.record.datastore} unmounted; write cache deleted`);
  }

  async finish(succeeded: boolean): Promise<void> {
    try {
      if (succeeded) return;
      if (this.productionOn) {
        await this.copy?.finish(true);
        await this.sessions.tearDown(
          this.sessionId,
          this.client,
          'migrated',
          `migrated to ${this.request.datastore}; ending the session: ${this.failure}`,
        );
        return;
      }
      // The copy goes; the session's VM runs from the backup again.
      await this.copy?.finish(false);
      if (this.client && this.sessionVmOff) {
        const record = this.record;
        const vmxPath = await vmxPathOf(record);
        const vm = this.sessionVmUnregistered
          ? await registerVm(
              this.client,
              placeOnHost(await this.client.inventory(), record.host, record.hostSystem ?? undefined),
              vmxPath,
              record.name,
            )
          : await findVmByPath(this.client, vmxPath);
        if (vm) await powerOn(this.client, vm, record.name);
      }
      this.sessions.update(this.sessionId, {
        state: 'running',
        note: `migration to ${this.request.datastore} failed: ${this.failure || 'cancelled'}; the VM runs from the backup`,
      });
    } finally {
      await this.client?.logout();
    }
  }

  result(): Record<string, unknown> {
    return {
      sessionId: this.sessionId,
      datastore: this.request.datastore,
      copy: this.copied?.vmName ?? null,
      transport: this.copied?.transport ?? null,
      proxy: this.copied?.proxy ?? null,
    };
  }
}

/** Writes the chunks the guest wrote, read merged from the session, into the production flat
 * file, in runs; returns the bytes written. */
async function writeGuestChunks(
  volume: OverlayVolume,
  disk: { id: number; name: string; size: number; writtenChunks: number[] },
  flatPath: string,
): Promise<number> {
  const handle = await open(flatPath, 'r+').catch((error: unknown) => {
    throw new LifeboatError(
      'unavailable',
      `the copy's disk ${flatPath} cannot be opened for the switchover: ${toWireError(error).message}`,
    );
  });
  let written = 0;
  try {
    const chunks = disk.writtenChunks;
    for (let first = 0; first < chunks.length;) {
      let last = first;
      while (last + 1 < chunks.length && chunks[last + 1] === (chunks[last] as number) + 1 && (last + 2 - first) * CHUNK <= RUN_BYTES)
        last++;
      const offset = (chunks[first] as number) * CHUNK;
      const { data } = await volume.read(disk.id, offset, (last - first + 1) * CHUNK);
      await handle.write(data, 0, data.length, offset);
      written += data.length;
      first = last + 1;
    }
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return written;
}
