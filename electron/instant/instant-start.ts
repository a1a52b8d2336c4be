// Starting an Instant Recovery session, in the seed's phases: initialization (the restore point
// opened, its VM folder served over NFS), NFS mapping (the export mounted on the chosen ESXi
// host as a datastore), registration of the VM from that datastore, and power-on. A failure or
// cancel takes back whatever was done, in reverse.
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import { mountNasDatastore, powerOn, registerVm } from '../drivers/vsphere/nas-datastore.ts';
import type { MoRef } from '../drivers/vsphere/xml.ts';
import type { LegacyJobWork } from '../jobs/job-work.ts';
import { throwIfCancelled, type StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import { placeOnHost, vmxPathOf, type HostPlace } from './host-side.ts';
import { SessionJob } from './session-job.ts';

export const instantStartSteps = [
  { name: 'initialize', title: 'Initialization: restore point opened and served over NFS' },
  { name: 'map-datastore', title: 'NFS mapping: the export mounted on the host as a datastore' },
  { name: 'register-vm', title: 'Register the VM from the NFS datastore' },
  { name: 'power-on', title: 'Start the VM' },
] as const;

export class InstantStartWork extends SessionJob implements LegacyJobWork {
  readonly steps = instantStartSteps;
  private readonly startedMs = Date.now();
  private place: HostPlace | null = null;
  private vmxPath = '';
  private vm: MoRef | null = null;

  async run(step: string, context: StepContext): Promise<void> {
    switch (step) {
      case 'initialize':
        return this.initialize(context);
      case 'map-datastore':
        return this.mapDatastore(context);
      case 'register-vm':
        return this.register(context);
      case 'power-on':
        return this.powerOn(context);
    }
    throw new LifeboatError('internal', `instant recovery has no step ${step}`);
  }

  private async initialize(context: StepContext): Promise<void> {
    const record = this.record;
    const inventory = await (await this.host()).inventory();
    this.place = placeOnHost(inventory, record.host, record.hostSystem ?? undefined);
    if (inventory.vms.some((vm) => vm.name === record.name)) {
      throw new LifeboatError('conflict', `a VM named "${record.name}" already exists in ${record.host}; run it under another name (--name)`);
    }
    if (inventory.datastores.some((datastore) => datastore.name === record.datastore)) throw new LifeboatError('conflict', `a datastore named ${record.datastore} already exists in ${record.host}`);
    this.sessions.update(this.sessionId, { hostSystem: this.place.host.name });
    throwIfCancelled(context.signal);
    const served = await this.sessions.serve(this.sessionId);
    this.vmxPath = await vmxPathOf(this.record);
    context.log(`${record.arrayName ? 'snapshot' : 'restore point'} ${record.pointId} of ${record.vmName} served at ${served.url}${record.allowed.length > 0 ? ` to ${record.allowed.join(', ')}` : ''}; the guest's writes go to ${served.writesTo}`);
  }

  private async mapDatastore(context: StepContext): Promise<void> {
    const record = this.record;
    const place = this.place as HostPlace;
    const { address } = this.sessions.listenOf(this.sessionId);
    // The served datastore's name and path are the record's now (a clone names its own).
    await mountNasDatastore(this.client as VsphereClient, place.host.ref, { remoteHost: address, remotePath: record.exportPath, datastoreName: record.datastore });
    context.log(`NFS datastore ${record.datastore} (${address}:${record.exportPath}) mounted on ${place.host.name}`);
  }

  private async register(context: StepContext): Promise<void> {
    const place = this.place as HostPlace;
    this.vm = await registerVm(this.client as VsphereClient, place, this.vmxPath, this.record.name);
    context.log(`VM ${this.record.name} registered from ${this.vmxPath} (${this.vm.value})`);
  }

  private async powerOn(context: StepContext): Promise<void> {
    await powerOn(this.client as VsphereClient, this.vm as MoRef, this.record.name);
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
    return { sessionId: record.id, name: record.name, datastore: record.datastore, hostSystem: record.hostSystem, poweredOnSeconds: record.poweredOnMs === null ? null : record.poweredOnMs / 1000 };
  }
}
