// Stopping an Instant Recovery session: the VM powered off and unregistered, the NFS datastore
// unmounted from the host, then the export closed and the write cache deleted. The backup was
// never written, so nothing else changes.
import type { LegacyJobWork } from '../jobs/job-work.ts';
import type { StepContext } from '../jobs/plan.ts';
import { LifeboatError } from '../errors.ts';
import { powerOffSessionVm, unmapDatastore, unregisterSessionVm, vmxPathOf } from './host-side.ts';
import { SessionJob } from './session-job.ts';

export const instantStopSteps = [
  { name: 'power-off', title: 'Power the VM off' },
  { name: 'unregister-vm', title: 'Unregister the VM' },
  { name: 'unmap-datastore', title: 'Unmount the NFS datastore from the host' },
  { name: 'delete-cache', title: 'Close the export and delete the write cache' },
] as const;

export class InstantStopWork extends SessionJob implements LegacyJobWork {
  readonly steps = instantStopSteps;
  private ended = false;

  async run(step: string, context: StepContext): Promise<'done' | 'skipped'> {
    const record = this.record;
    const vmxPath = await vmxPathOf(record);
    switch (step) {
      case 'power-off':
        return said(context, await powerOffSessionVm(await this.host(), vmxPath, record.name), `VM ${record.name} powered off`);
      case 'unregister-vm':
        return said(context, await unregisterSessionVm(await this.host(), vmxPath), `VM ${record.name} unregistered`);
      case 'unmap-datastore':
        return said(context, await unmapDatastore(await this.host(), record.datastore), `datastore ${record.datastore} unmounted`);
      case 'delete-cache': {
        const cached = this.sessions.volumeOf(this.sessionId)?.cachedBytes ?? 0;
        await this.sessions.release(this.sessionId, 'stopped', 'stopped by the operator');
        this.ended = true;
        context.log(`export closed; write cache of ${cached} bytes deleted from ${record.cacheFolder}`);
        return 'done';
      }
    }
    throw new LifeboatError('internal', `stopping a session has no step ${step}`);
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

/** A step that found nothing to do is shown skipped. */
function said(context: StepContext, did: boolean, what: string): 'done' | 'skipped' {
  if (did) context.log(what);
  return did ? 'done' : 'skipped';
}
