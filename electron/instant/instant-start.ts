// Starting an Instant Recovery session, in the seed's phases: initialization (the restore point
// opened, its VM folder served over NFS), NFS mapping (the export mounted on the chosen ESXi
// host as a datastore), registration of the VM from that datastore, and power-on. A failure or
// cancel takes back whatever was done, in reverse.
import { mountNasDatastore, powerOn, registerVm } from '../drivers/vsphere/nas-datastore.ts';
import type { MoRef } from '../drivers/vsphere/xml.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, throwIfCancelled, type StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import { placeOnHost, vmxPathOf, type HostPlace } from './host-side.ts';
import { SessionJob } from './session-job.ts';

/** Where the VM goes on the host and the .vmx it is registered from, known once the point is served. */
type Served = { place: HostPlace; vmxPath: string };
/** The VM registered on the host (an object: a bare MoRef, having a `value`, would read as a skip's). */
type Registered = { vm: MoRef };

export class InstantStartWork extends SessionJob implements JobWork {
  static readonly plan = Plan.of<InstantStartWork>()
    .step('initialize', 'Initialization: restore point opened and served over NFS', (work, _none, context) => work.initialize(context))
    .step('map-datastore', 'NFS mapping: the export mounted on the host as a datastore', (work, served, context) =>
      work.mapDatastore(served, context),
    )
    .step('register-vm', 'Register the VM from the NFS datastore', (work, served, context) => work.register(served, context))
    .step('power-on', 'Start the VM', (work, registered, context) => work.powerOn(registered, context));
  readonly plan = InstantStartWork.plan.bind(this);
  private readonly startedMs = Date.now();

  private async initialize(context: StepContext): Promise<Served> {
    const record = this.record;
    const inventory = await (await this.host()).inventory();
    const place = placeOnHost(inventory, record.host, record.hostSystem ?? undefined);
    if (inventory.vms.some((vm) => vm.name === record.name)) {
      throw new LifeboatError(
        'conflict',
        `a VM named "${record.name}" already exists in ${record.host}; run it under another name (--name)`,
      );
    }
    if (inventory.datastores.some((datastore) => datastore.name === record.datastore))
      throw new LifeboatError('conflict', `a datastore named ${record.datastore} already exists in ${record.host}`);
    this.sessions.update(this.sessionId, { hostSystem: place.host.name });
    throwIfCancelled(context.signal);
    const served = await this.sessions.serve(this.sessionId);
    const vmxPath = await vmxPathOf(this.record);
    context.log(
      `${record.arrayName ? 'snapshot' : 'restore point'} ${record.pointId} of ${record.vmName} served at ${served.url}${record.allowed.length > 0 ? ` to ${record.allowed.join(', ')}` : ''}; the guest's writes go to ${served.writesTo}`,
    );
    return { place, vmxPath };
  }

  private async mapDatastore(served: Served, context: StepContext): Promise<Served> {
    const record = this.record;
    const { address } = this.sessions.listenOf(this.sessionId);
    // The served datastore's name and path are the record's now (a clone names its own).
    await mountNasDatastore(await this.host(), served.place.host.ref, {
      remoteHost: address,
      remotePath: record.exportPath,
      datastoreName: record.datastore,
    });
    context.log(`NFS datastore ${record.datastore} (${address}:${record.exportPath}) mounted on ${served.place.host.name}`);
    return served;
  }

  private async register({ place, vmxPath }: Served, context: StepContext): Promise<Registered> {
    const vm = await registerVm(await this.host(), place, vmxPath, this.record.name);
    context.log(`VM ${this.record.name} registered from ${vmxPath} (${vm.value})`);
    return { vm };
  }

  private async powerOn({ vm }: Registered, context: StepContext): Promise<void> {
    await powerOn(await this.host(), vm, this.record.name);
    const poweredOnMs = Date.now() - this.startedMs;
    this.sessions.update(this.sessionId, { poweredOnMs });
    context.log(`VM ${this.record.name} powered on ${(poweredOnMs / 1000).toFixed(2)} s after the request`);
  }

  async finish(succeeded: boolean): Promise<void> {
    try {
      if (succeeded) this.sessions.update(this.sessionId, { state: 'running' });
      else await this.sessions.tearDown(this.sessionId, this.client, 'failed', 'the start did not complete; see its job');
    } finally {
      await this.client?.logout();
    }
  }

  result(): Record<string, unknown> {
    const record = this.sessions.record(this.sessionId);
    return {
      sessionId: record.id,
      name: record.name,
      datastore: record.datastore,
      hostSystem: record.hostSystem,
      poweredOnSeconds: record.poweredOnMs === null ? null : record.poweredOnMs / 1000,
    };
  }
}
