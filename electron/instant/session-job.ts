// What the jobs of an Instant Recovery session share: the session they act on, and a host
// connection made once and logged out of when the job ends.
import type { InstantRecord } from '../catalog/instant-catalog.ts';
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import type { SessionHost } from './session-host.ts';

export abstract class SessionJob {
  protected readonly sessions: SessionHost;
  protected readonly sessionId: string;
  protected client: VsphereClient | null = null;

  constructor(sessions: SessionHost, sessionId: string) {
    this.sessions = sessions;
    this.sessionId = sessionId;
  }

  protected get record(): InstantRecord {
    return this.sessions.record(this.sessionId);
  }

  protected async host(): Promise<VsphereClient> {
    this.client ??= await this.sessions.connectHost(this.record.host);
    return this.client;
  }
}
