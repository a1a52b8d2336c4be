// Stopping an Instant Recovery session: the VM powered off and unregistered, the NFS datastore
// unmounted from the host, then the export closed and the write cache deleted. The backup was
// never written, so nothing else changes.
import type { JobWork } from '../jobs/job-work.ts';
import { Plan, skip, type Skipped, type StepContext } from '../jobs/plan.ts';
import { powerOffSessionVm, unmapDatastore, unregisterSessionVm, vmxPathOf } from './host-side.ts';
import { SessionJob } from './session-job.ts';

/** The session VM's .vmx, found before the VM goes (the stop's later steps look it up by it). */
type Located = { vmxPath: string };

export class InstantStopWork extends SessionJob implements JobWork {
  static readonly plan = Plan.of<InstantStopWork>()
    .step('power-off', 'Power the VM off', (work, _none, context) => work.powerOff(context))
    .step('unregister-vm', 'Unregister the VM', (work, located, context) => work.unregister(located, context))
    .step('unmap-datastore', 'Unmount the NFS datastore from the host', (work, _none, context) => work.unmap(context))
    .step('delete-cache', 'Close the export and delete the write cache', (work, _none, context) => work.deleteCache(context));
  readonly plan = InstantStopWork.plan.bind(this);
  private ended = false;

  private async powerOff(context: StepContext): Promise<Located | Skipped<Located>> {
    const record = this.record;
    const located = { vmxPath: await vmxPathOf(record) };
    return said(
      context,
      await powerOffSessionVm(await this.host(), located.vmxPath, record.name),
      `VM ${record.name} powered off`,
      located,
    );
  }

  private async unregister(located: Located, context: StepContext): Promise<void | Skipped<void>> {
    return said(context, await unregisterSessionVm(await this.host(), located.vmxPath), `VM ${this.record.name} unregistered`, undefined);
  }

  private async unmap(context: StepContext): Promise<void | Skipped<void>> {
    const record = this.record;
    return said(context, await unmapDatastore(await this.host(), record.datastore), `datastore ${record.datastore} unmounted`, undefined);
  }

  private async deleteCache(context: StepContext): Promise<void> {
    const record = this.record;
    const cached = this.sessions.volumeOf(this.sessionId)?.cachedBytes ?? 0;
    await this.sessions.release(this.sessionId, 'stopped', 'stopped by the operator');
    this.ended = true;
    context.log(`export closed; write cache of ${cached} bytes deleted from ${record.cacheFolder}`);
  }

  async finish(succeeded: boolean): Promise<void> {
    try {
      // A stop that failed half-way still ends the session, saying what stayed on the host.
      if (!succeeded && !this.ended) await this.sessions.tearDown(this.sessionId, this.client, 'stopped', 'stopped by the operator');
    } finally {
      await this.client?.logout();
    }
  }

  result(): Record<string, unknown> {
    const record = this.record;
    return { sessionId: record.id, state: record.state, bytesRead: record.bytesRead, bytesWritten: record.bytesWritten };
  }
}

/** A step that found nothing to do is shown skipped; `value` goes on to the next step either way. */
function said<T>(context: StepContext, did: boolean, what: string, value: T): T | Skipped<T> {
  if (!did) return skip(value);
  context.log(what);
  return value;
}
