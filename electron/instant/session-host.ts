// What the Instant Recovery jobs need of the service that owns the sessions: their records, the
// host, the NFS export of each, and the one way a session ends.
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import type { InstantPatch, InstantRecord } from '../catalog/instant-catalog.ts';
import type { OverlayVolume } from '../nfs/volume.ts';
import type { Repository } from '../repository/repository.ts';

export type EndState = 'stopped' | 'failed' | 'migrated';

export interface SessionHost {
  /** The repository (the copy picked at start, unlocked when encrypted) a session reads. */
  sourceOf(sessionId: string): Repository;
  record(sessionId: string): InstantRecord;
  update(sessionId: string, patch: InstantPatch): InstantRecord;
  connectHost(name: string): Promise<VsphereClient>;
  /** Serves the session's datastore (the backup through our NFS export, or an array clone);
   * returns its nfs:// URL and where the guest's writes go. */
  serve(sessionId: string): Promise<{ url: string; writesTo: string }>;
  /** The address the host mounts from, and the port the server answers on. */
  listenOf(sessionId: string): { address: string; port: number };
  volumeOf(sessionId: string): OverlayVolume | null;
  /** Ends the session: its VM powered off and unregistered and its datastore unmounted on the
   * host (with `client`, or a new connection), then the export closed and its folders deleted. */
  tearDown(sessionId: string, client: VsphereClient | null, end: EndState, note: string): Promise<void>;
  /** The local half of tearDown: the export closed, its folders deleted, the record ended. */
  release(sessionId: string, end: EndState, note: string | null): Promise<void>;
}
