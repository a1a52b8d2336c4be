// Instant Recovery sessions of one engine: each a restore point served over NFS (one server per
// listen address, shared by its sessions), mounted on an ESXi host as a datastore, its VM
// registered and running there until it is migrated to production or stopped. A session outlives
// its engine: a shutdown or a crash leaves its record running, and the next start serves it again
// (same address and port, same export id in the file handles, the write cache reopened), so the
// VM's storage comes back within seconds of the engine. See "Sessions across engine restarts" in
// docs/instant-recovery.md.
import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { RequestOf } from '../../shared/contract.ts';
import type { InstantSession, Job } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { InstantPatch, InstantRecord } from '../catalog/instant-catalog.ts';
import type { VsphereClient } from '../drivers/vsphere/vsphere-client.ts';
import type { EngineEvents } from '../jobs/events.ts';
import type { JobQueue } from '../jobs/job-queue.ts';
import type { JobWork } from '../jobs/job-work.ts';
import { LifeboatError, toWireError } from '../errors.ts';
import { openBackupVolume } from '../nfs/backup-volume.ts';
import { NfsServer } from '../nfs/nfs-server.ts';
import { PORTMAP_PORT } from '../nfs/portmap-program.ts';
import type { OverlayVolume } from '../nfs/volume.ts';
import { FileArray } from '../drivers/array/file-array.ts';
import type { Repository } from '../repository/repository.ts';
import type { BlockDecoder } from '../repository/point-disk.ts';
import { powerOffSessionVm, unmapDatastore, unregisterSessionVm, vmxPathOf } from './host-side.ts';
import { InstantStartWork } from './instant-start.ts';
import { InstantStopWork } from './instant-stop.ts';
import { snapshotWith } from '../snapshots/snapshot-lookup.ts';
import type { EndState, SessionHost } from './session-host.ts';
import { withoutSecrets } from '../keys/key-service.ts';
import type { SourceChoice } from '../copies/copy-service.ts';

/** ESXi's NFS client mounts from port 2049 (and asks the portmapper on 111); tests pick others. */
export const DEFAULT_LISTEN = '127.0.0.1:2049';

export type InstantDeps = {
  home: string;
  catalog: Catalog;
  events: EngineEvents;
  jobs: JobQueue;
  repository: Repository;
  /** Decodes the backup's blocks off the engine's thread (the block workers). */
  decode: BlockDecoder;
  connectHost(name: string): Promise<VsphereClient>;
  resolvePoint(vm: string, point: string): { vmId: string; vmName: string; pointId: string };
  /** The copy a session serves (the fastest whole one, or one in a region), unlocked when the
   * point is encrypted; a wrong password fails here, before the session exists. */
  openSource(vm: { id: string; name: string }, pointId: string, choice: SourceChoice): Promise<Repository>;
  /** How often a session the restarted engine could not serve yet (its port taken, its key not
   * known) is tried again; 5 s when absent. */
  resumeRetryMs?: number;
  /** The quick migration's work for a running session. */
  migrationWork(
    sessions: SessionHost,
    sessionId: string,
    jobId: string,
    request: { datastore: string; transport: 'auto' | 'san' | 'hotadd' },
  ): JobWork;
};

/** A live session: served from the backup by our NFS server, or running from an array clone. */
type Live = { kind: 'export'; server: NfsServer; exportId: number; volume: OverlayVolume } | { kind: 'clone' };

const RESUME_RETRY_MS = 5_000;

/** What the engine serving a session from the backup holds in a shared catalog, so the other
 * engines can tell a session nobody serves (its engine stopped or died) from a served one. */
const servedKey = (sessionId: string): string => `instant-session:${sessionId}`;

function hostPort(address: string, port: number): string {
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** The generation in a session's file handles: the first 32 bits of its random id (never 0, which
 * marks exports made by hand), so a handle never names a session it was not given for. */
export function generationOf(sessionId: string): number {
  return Number.parseInt(sessionId.replaceAll('-', '').slice(0, 8), 16) >>> 0 || 1;
}

export function parseListen(listen: string): { address: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new LifeboatError('bad-request', `listen address "${listen}" is not ADDRESS:PORT`);
  const address = match[1] as string;
  if (address === '0.0.0.0' || address === '::')
    throw new LifeboatError('bad-request', `listen on an address the host can reach and mount from, not ${address}`);
  return { address, port };
}

/** What every new session's record starts with, whatever it runs from. */
export function startingRecord(
  id: string,
): Pick<
  InstantRecord,
  | 'id'
  | 'state'
  | 'note'
  | 'jobId'
  | 'createdAt'
  | 'endedAt'
  | 'poweredOnMs'
  | 'firstReadMs'
  | 'bytesRead'
  | 'bytesWritten'
  | 'cacheBytes'
  | 'arrayName'
  | 'cloneId'
  | 'vmFolder'
> {
  return {
    id,
    state: 'starting',
    note: null,
    jobId: null,
    createdAt: new Date().toISOString(),
    endedAt: null,
    poweredOnMs: null,
    firstReadMs: null,
    bytesRead: 0,
    bytesWritten: 0,
    cacheBytes: 0,
    arrayName: null,
    cloneId: null,
    vmFolder: null,
  };
}

export class InstantService implements SessionHost {
  private readonly deps: InstantDeps;
  private readonly servers = new Map<string, Promise<NfsServer>>();
  private readonly live = new Map<string, Live>();
  /** The holds on servedKey of the sessions this engine serves from the backup: let go when a
   * session ends here, or by the catalog's server when this engine stops or dies. */
  private readonly serving = new Map<string, () => void>();
  /** The repository each session of this engine reads (its key, when encrypted, lives only here). */
  private readonly sources = new Map<string, Repository>();
  /** Sessions of this engine that a restart could not serve yet (why, in their note); retried. */
  private readonly waiting = new Set<string>();
  /** Sessions of this engine that a restart can never serve again (why, in their note): not
   * retried, their handles stale; they can only be stopped. */
  private readonly unservable = new Set<string>();
  /** A resume step running now, per session: a stop waits for it (and then undoes it). */
  private readonly resuming = new Map<string, Promise<unknown>>();
  /** Sessions released (stopped, failed) by this engine: a resume step that ends after it does
   * not serve them again. */
  private readonly released = new Set<string>();
  private retryTimer: NodeJS.Timeout | null = null;
  private retrying: Promise<void> | null = null;
  private closed = false;
  /** The start-up work on the sessions a previous engine left: how many it found. */
  recovered: Promise<number> = Promise.resolve(0);

  constructor(deps: InstantDeps) {
    this.deps = deps;
  }

  sourceOf(sessionId: string): Repository {
    return this.sources.get(sessionId) ?? this.deps.repository;
  }

  record(sessionId: string): InstantRecord {
    const record = this.deps.catalog.instant.get(sessionId);
    if (!record) throw new LifeboatError('not-found', `no Instant Recovery session ${sessionId}; \`lifeboat instant list\` shows them`);
    return record;
  }

  /** A session by id or by a unique prefix of it (the CLI prints the first 8 characters). */
  find(idOrPrefix: string): InstantRecord {
    const exact = this.deps.catalog.instant.get(idOrPrefix);
    if (exact) return exact;
    const matches = idOrPrefix.length >= 4 ? this.deps.catalog.instant.list().filter((record) => record.id.startsWith(idOrPrefix)) : [];
    if (matches.length === 1) return matches[0] as InstantRecord;
    throw new LifeboatError(
      matches.length > 1 ? 'conflict' : 'not-found',
      matches.length > 1
        ? `"${idOrPrefix}" names ${matches.length} sessions; give more of the id`
        : `no Instant Recovery session "${idOrPrefix}"; \`lifeboat instant list\` shows them`,
    );
  }

  update(sessionId: string, patch: InstantPatch): InstantRecord {
    const record = this.deps.catalog.instant.update(sessionId, patch);
    this.deps.events.emit('instant.updated', this.summary(record));
    return record;
  }

  connectHost(name: string): Promise<VsphereClient> {
    return this.deps.connectHost(name);
  }

  private server(listen: string): Promise<NfsServer> {
    let server = this.servers.get(listen);
    if (!server) {
      const { address, port } = parseListen(listen);
      // ESXi mounts from 2049 and asks the portmapper on 111 where MOUNT is.
      server = NfsServer.listen(address, port, {
        ...(port === 2049 ? { portmapperPort: PORTMAP_PORT } : {}),
        pending: (identity) => this.isWaiting(identity),
      });
      server.catch(() => this.servers.delete(listen));
      this.servers.set(listen, server);
    }
    return server;
  }

  serve(sessionId: string): Promise<{ url: string; writesTo: string }> {
    const record = this.record(sessionId);
    if (record.arrayName) return this.serveClone(record, record.arrayName);
    return this.serveExport(record, false);
  }

  /** Serves a session's export: the first time, or again after a restart (`resume`: the folders
   * and the cache as the last engine left them). The server binds the port the session got the
   * first time, and the export keeps its id, so the host's mount and file handles still work. */
  private async serveExport(record: InstantRecord, resume: boolean): Promise<{ url: string; writesTo: string }> {
    return this.publish(record, await this.openVolume(record, resume));
  }

  private openVolume(record: InstantRecord, resume: boolean): Promise<OverlayVolume> {
    return openBackupVolume(
      this.sourceOf(record.id),
      record.vmId,
      record.pointId,
      { exportFolder: record.exportFolder, cacheFolder: record.cacheFolder },
      this.deps.decode,
      { resume },
    );
  }

  /** Binds the session's server (if no other session has) and adds its export: only once the
   * volume is open, so a client never hears NFS3ERR_STALE for a handle that is about to work. */
  private async publish(record: InstantRecord, volume: OverlayVolume): Promise<{ url: string; writesTo: string }> {
    const { address } = parseListen(record.listen);
    const listen = record.servedPort === null ? record.listen : hostPort(address, record.servedPort);
    let server: NfsServer | null = null;
    try {
      server = await this.server(listen);
      // A server bound on port 0 is found under its real port too: a session asking for that
      // port later (or this one after a restart) shares it instead of failing to bind.
      const bound = hostPort(address, server.port);
      if (!this.servers.has(bound)) this.servers.set(bound, Promise.resolve(server));
      const exportId = record.exportId ?? this.deps.catalog.instant.nextExportId();
      if (record.servedPort !== server.port || record.exportId !== exportId) this.update(record.id, { servedPort: server.port, exportId });
      server.addExport(record.exportPath, volume, record.allowed, { exportId, generation: generationOf(record.id) });
      this.live.set(record.id, { kind: 'export', server, exportId, volume });
      if (!this.serving.has(record.id))
        this.serving.set(record.id, this.deps.catalog.engines.takeSlot(servedKey(record.id), 1) ?? (() => undefined));
    } catch (error) {
      await volume.close();
      if (server) await this.closeServerIfUnused(server);
      throw error;
    }
    return { url: this.nfsUrl(this.record(record.id)), writesTo: record.cacheFolder };
  }

  /** A server no live session uses any more is closed (its port freed). */
  private async closeServerIfUnused(server: NfsServer): Promise<void> {
    if (server.exportCount > 0 || [...this.live.values()].some((other) => other.kind === 'export' && other.server === server)) return;
    for (const [key, found] of [...this.servers]) if ((await found.catch(() => null)) === server) this.servers.delete(key);
    await server.close();
  }

  /** A session from a storage snapshot runs from a clone (it carries the session id), exported by
   * the array over NFS to the ESXi host: the datastore takes the share's name. */
  private async serveClone(record: InstantRecord, arrayName: string): Promise<{ url: string; writesTo: string }> {
    const array = this.arrayOf(arrayName);
    const clone = await array.clone(record.pointId, record.id);
    const presentation = await array.present(clone.id, record.hostSystem ?? record.host, () => undefined);
    const updated = this.update(record.id, {
      cloneId: clone.id,
      datastore: presentation.datastore,
      exportPath: `/clones/${clone.id}`,
      exportFolder: presentation.path,
    });
    this.live.set(record.id, { kind: 'clone' });
    return { url: this.nfsUrl(updated), writesTo: this.writesTo(updated) };
  }

  private arrayOf(name: string): FileArray {
    const known = this.deps.catalog.arrays.find(name);
    if (!known) throw new LifeboatError('not-found', `array ${name} is no longer in the catalog`);
    return FileArray.open(known.name, known.path);
  }

  private writesTo(record: InstantRecord): string {
    return record.arrayName ? `clone ${record.cloneId ?? '(not made yet)'} on array ${record.arrayName}` : record.cacheFolder;
  }

  listenOf(sessionId: string): { address: string; port: number } {
    return this.listenOfRecord(this.record(sessionId));
  }

  private listenOfRecord(record: InstantRecord): { address: string; port: number } {
    const { address, port } = parseListen(record.listen);
    const live = this.live.get(record.id);
    return { address, port: live?.kind === 'export' ? live.server.port : (record.servedPort ?? port) };
  }

  /** From the record in hand (a summary of every session must not read each one again). */
  private nfsUrl(record: InstantRecord): string {
    const { address, port } = this.listenOfRecord(record);
    const host = address.includes(':') ? `[${address}]` : address;
    return `nfs://${host}${record.exportPath}${port === 2049 ? '' : `?nfsport=${port}&mountport=${port}`}`;
  }

  volumeOf(sessionId: string): OverlayVolume | null {
    const live = this.live.get(sessionId);
    return live?.kind === 'export' ? live.volume : null;
  }

  async release(sessionId: string, end: EndState, note: string | null): Promise<void> {
    // A resume step running now ends first: what it served is found in `live` and taken down
    // here, and it does not leave the session waiting (it sees the release).
    this.released.add(sessionId);
    await this.resuming.get(sessionId)?.catch(() => undefined);
    const live = this.live.get(sessionId);
    const counted: InstantPatch = {};
    this.live.delete(sessionId);
    this.letGoOfServing(sessionId);
    this.sources.delete(sessionId);
    this.waiting.delete(sessionId);
    this.unservable.delete(sessionId);
    const record = this.record(sessionId);
    if (record.arrayName) {
      // The clone goes with its presentations; found by the session id it carries.
      await this.arrayOf(record.arrayName).removeClonesOf(sessionId);
    } else {
      if (live?.kind === 'export') {
        Object.assign(counted, this.counters(record, live));
        live.server.removeExport(live.exportId);
        await live.volume.close();
        await this.closeServerIfUnused(live.server);
      }
      await rm(record.exportFolder, { recursive: true, force: true });
      await rm(record.cacheFolder, { recursive: true, force: true });
    }
    this.update(sessionId, { ...counted, state: end, note, endedAt: new Date().toISOString() });
  }

  /** The session's counters so far: what earlier engines recorded plus what this one served. */
  private counters(record: InstantRecord, live: Extract<Live, { kind: 'export' }>): InstantPatch {
    const stats = live.server.stats(live.exportId);
    return {
      bytesRead: record.bytesRead + (stats?.bytesRead ?? 0),
      bytesWritten: record.bytesWritten + (stats?.bytesWritten ?? 0),
      cacheBytes: live.volume.cachedBytes,
      firstReadMs: record.firstReadMs ?? (stats?.firstReadAt ? stats.firstReadAt - Date.parse(record.createdAt) : null),
    };
  }

  async tearDown(sessionId: string, client: VsphereClient | null, end: EndState, note: string): Promise<void> {
    const record = this.record(sessionId);
    const problems: string[] = [];
    let connected: VsphereClient | null = null;
    try {
      const host = client ?? (connected = await this.deps.connectHost(record.host));
      const vmxPath = await vmxPathOf(record);
      for (const [what, step] of [
        ['power off', () => powerOffSessionVm(host, vmxPath, record.name)],
        ['unregister', () => unregisterSessionVm(host, vmxPath)],
        ['unmount', () => unmapDatastore(host, record.datastore)],
      ] as const) {
        await step().catch((error: unknown) => problems.push(`${what}: ${toWireError(error).message}`));
      }
    } catch (error) {
      problems.push(`cannot reach ${record.host}: ${toWireError(error).message}`);
    } finally {
      await connected?.logout();
    }
    const left = problems.length > 0 ? `; on the host, ${problems.join('; ')} (check datastore ${record.datastore} there)` : '';
    await this.release(sessionId, problems.length > 0 ? 'failed' : end, `${note}${left}`);
  }

  async start(request: RequestOf<'instant.start'> & { point: string }, actor: string): Promise<{ job: Job; session: InstantSession }> {
    const { vmId, vmName, pointId } = this.deps.resolvePoint(request.vm, request.point);
    const host = this.hostNamed(request.host);
    const listen = request.listen ?? DEFAULT_LISTEN;
    parseListen(listen);
    const allowed = request.allow ?? (await lookup(new URL(host.url).hostname, { all: true })).map((found) => found.address);
    const source = await this.deps.openSource({ id: vmId, name: vmName }, pointId, request);
    const id = randomUUID();
    const datastore = `lifeboat-ir-${id.slice(0, 8)}`;
    let cacheFolder = join(this.deps.home, 'instant-cache', id);
    if (request.redirectTo) {
      const folder = resolve(request.redirectTo);
      const found = await stat(folder).catch(() => null);
      if (!found?.isDirectory()) throw new LifeboatError('not-found', `redirect folder ${folder} does not exist or is not a folder`);
      cacheFolder = join(folder, `${datastore}-writes`);
    }
    const record: InstantRecord = {
      ...startingRecord(id),
      vmId,
      vmName,
      pointId,
      name: request.name ?? vmName,
      host: host.name,
      hostSystem: request.hostSystem ?? null,
      datastore,
      listen,
      exportPath: `/lifeboat/${datastore}`,
      allowed,
      exportFolder: join(this.deps.home, 'instant', datastore),
      cacheFolder,
      redirected: Boolean(request.redirectTo),
      exportId: this.deps.catalog.instant.nextExportId(),
      servedPort: null,
      fromRegion: request.fromRegion ?? null,
    };
    this.sources.set(id, source);
    return this.submitStart(record, request, actor, { pointId, listen, allowed, writesTo: cacheFolder, source: source.path });
  }

  /** Instant Recovery from a storage snapshot: the VM runs from a clone the array exports over
   * NFS to the host (no backup, no Lifeboat NFS server); iSCSI and FC arrays would need vSphere's
   * rescan and resignature calls, which Lifeboat does not make yet. */
  async startFromSnapshot(
    request: RequestOf<'instant.start'> & { fromSnapshot: string },
    actor: string,
  ): Promise<{ job: Job; session: InstantSession }> {
    const {
      snapshot,
      vms: [vm],
    } = snapshotWith(this.deps.catalog, request.fromSnapshot, [request.vm]);
    if (!vm) throw new LifeboatError('internal', 'a snapshot lookup returned no VM');
    const host = this.hostNamed(request.host);
    const { config } = await this.arrayOf(snapshot.array).summary();
    if (config.protocol !== 'nfs')
      throw new LifeboatError(
        'bad-request',
        `array ${snapshot.array} presents clones over ${config.protocol.toUpperCase()}; Instant Recovery from a snapshot needs an NFS array (vSphere's rescan and resignature calls are not made yet)`,
      );
    const id = randomUUID();
    const record: InstantRecord = {
      ...startingRecord(id),
      vmId: `${snapshot.id}/${vm.name}`,
      vmName: vm.name,
      pointId: snapshot.id,
      name: request.name ?? vm.name,
      host: host.name,
      hostSystem: request.hostSystem ?? null,
      datastore: `lifeboat-ir-${id.slice(0, 8)}`,
      listen: `${config.address}:2049`,
      exportPath: '',
      allowed: [],
      exportFolder: '',
      cacheFolder: '',
      redirected: false,
      arrayName: snapshot.array,
      vmFolder: vm.folder,
      exportId: null,
      servedPort: null,
      fromRegion: null,
    };
    return this.submitStart(record, request, actor, { snapshot: snapshot.id, array: snapshot.array });
  }

  private hostNamed(name: string): { name: string; url: string } {
    const host = this.deps.catalog.findHost(name);
    if (!host) throw new LifeboatError('not-found', `no host "${name}" in the catalog; \`lifeboat hosts add vsphere …\` adds one`);
    return host;
  }

  private submitStart(
    record: InstantRecord,
    request: RequestOf<'instant.start'>,
    operator: string,
    audited: Record<string, unknown>,
  ): { job: Job; session: InstantSession } {
    this.deps.catalog.instant.insert(record);
    this.deps.catalog.audit(operator, 'instant.start', record.vmId, { sessionId: record.id, host: record.host, ...audited });
    const job = this.deps.jobs.submit(
      {
        kind: 'instant-start',
        vmId: record.arrayName ? null : record.vmId,
        vmName: record.vmName,
        summary: `Instant Recovery of ${record.vmName} on ${record.host}${record.arrayName ? ` from snapshot ${record.pointId}` : ''}`,
        params: { ...withoutSecrets(request), pointId: record.pointId, sessionId: record.id },
        requestedBy: operator,
        outsideLimit: true,
      },
      () => new InstantStartWork(this, record.id),
    );
    return { job, session: this.summary(this.update(record.id, { jobId: job.id })) };
  }

  private running(sessionId: string, what: string): InstantRecord {
    const record = this.find(sessionId);
    if (record.state !== 'running')
      throw new LifeboatError('conflict', `session ${record.id.slice(0, 8)} is ${record.state}; only a running session can be ${what}`);
    if (!this.live.has(record.id) && !(what === 'stopped' && (this.waiting.has(record.id) || this.unservable.has(record.id))))
      throw new LifeboatError(
        'conflict',
        this.waiting.has(record.id)
          ? `session ${record.id.slice(0, 8)} is not served yet since the engine restarted (${record.note ?? 'see its note'}); it can be stopped`
          : `session ${record.id.slice(0, 8)} belongs to an engine that has stopped`,
      );
    return record;
  }

  /** A session the restarted engine has not served yet (its note says why) can still be stopped. */
  stop(sessionId: string, operator: string): Job {
    const record = this.running(sessionId, 'stopped');
    this.deps.catalog.audit(operator, 'instant.stop', record.vmId, { sessionId: record.id });
    this.update(record.id, { state: 'stopping' });
    const job = this.deps.jobs.submit(
      {
        kind: 'instant-stop',
        vmId: null,
        vmName: record.vmName,
        summary: `Stop Instant Recovery of ${record.name} on ${record.host}`,
        params: { sessionId: record.id },
        requestedBy: operator,
        outsideLimit: true,
      },
      () => new InstantStopWork(this, record.id),
    );
    this.update(record.id, { jobId: job.id });
    return job;
  }

  migrate(request: RequestOf<'instant.migrate'>, operator: string): Job {
    const record = this.running(request.sessionId, 'migrated');
    if (record.arrayName)
      throw new LifeboatError(
        'bad-request',
        `${record.name} runs from clone ${record.cloneId} on array ${record.arrayName}, not from the backup; migrate it with Storage vMotion on the host (Lifeboat does not drive that yet)`,
      );
    this.deps.catalog.audit(operator, 'instant.migrate', record.vmId, { sessionId: record.id, datastore: request.datastore });
    this.update(record.id, { state: 'migrating' });
    const job = this.deps.jobs.submit(
      {
        kind: 'instant-migrate',
        vmId: record.vmId,
        vmName: record.vmName,
        summary: `Migrate ${record.name} to datastore ${request.datastore}`,
        params: { ...request, sessionId: record.id },
        requestedBy: operator,
      },
      (jobId) => this.deps.migrationWork(this, record.id, jobId, { datastore: request.datastore, transport: request.transport ?? 'auto' }),
    );
    this.update(record.id, { jobId: job.id });
    return job;
  }

  summary(record: InstantRecord): InstantSession {
    const live = this.live.get(record.id);
    const exported = live?.kind === 'export' ? live : null;
    const stats = exported?.server.stats(exported.exportId) ?? null;
    const firstReadMs = record.firstReadMs ?? (stats?.firstReadAt ? stats.firstReadAt - Date.parse(record.createdAt) : null);
    return {
      id: record.id,
      vmId: record.vmId,
      vmName: record.vmName,
      pointId: record.pointId,
      name: record.name,
      host: record.host,
      hostSystem: record.hostSystem,
      datastore: record.datastore,
      nfsUrl: this.nfsUrl(record),
      allowed: record.allowed,
      writesTo: this.writesTo(record),
      redirected: record.redirected,
      state: record.state,
      note: this.unservedNote(record) ?? record.note,
      createdAt: record.createdAt,
      endedAt: record.endedAt,
      poweredOnSeconds: record.poweredOnMs === null ? null : record.poweredOnMs / 1000,
      firstReadSeconds: firstReadMs === null ? null : firstReadMs / 1000,
      cacheBytes: exported?.volume.cachedBytes ?? record.cacheBytes,
      bytesRead: record.bytesRead + (stats?.bytesRead ?? 0),
      bytesWritten: record.bytesWritten + (stats?.bytesWritten ?? 0),
      jobId: record.jobId,
    };
  }

  private letGoOfServing(sessionId: string): void {
    const letGo = this.serving.get(sessionId);
    this.serving.delete(sessionId);
    try {
      letGo?.();
    } catch {
      // A catalog that cannot answer now: the hold goes with this engine's session on its server.
    }
  }

  /** Why nobody answers a session's datastore now, whatever its state says: it is served from the
   * backup by another home's engine (a shared catalog) and no engine holds it (servedKey). Its
   * engine serves it again when it starts. Null: served, or this engine's own to tell. */
  private unservedNote(record: InstantRecord): string | null {
    if (record.arrayName !== null || (record.state !== 'running' && record.state !== 'migrating')) return null;
    if (this.live.has(record.id) || this.servedFromHere(record)) return null;
    if (this.deps.catalog.engines.heldByAnEngine(servedKey(record.id)) !== false) return null;
    const home = dirname(dirname(record.exportFolder));
    return `not served now: the engine of the home it was started from (${home}) is not running; the VM's datastore answers again when that engine starts`;
  }

  list(): InstantSession[] {
    return this.deps.catalog.instant.list().map((record) => this.summary(record));
  }

  /** Sessions a previous engine left (a crash, a shutdown, an update). Running ones are served
   * again first, with no call to the host, so the VMs' storage answers within seconds; one left
   * migrating runs on from the backup (its migration job failed, said in both). Then the host
   * work: a session left stopping has its stop finished, one left starting is taken down as a
   * failed start is. With a shared catalog, only this home's sessions (servedFromHere). */
  recoverAfterRestart({ ownOnly }: { ownOnly: boolean }): void {
    const left = this.deps.catalog.instant
      .inStates(['starting', 'running', 'migrating', 'stopping'])
      .filter((record) => !ownOnly || this.servedFromHere(record));
    this.recovered = (async () => {
      // Every volume opened before any server binds: sessions sharing a port all answer at once.
      const opened = new Map<string, OverlayVolume>();
      for (const record of left.filter((found) => found.state === 'running' || found.state === 'migrating')) {
        if (record.state === 'migrating') this.migrationCutShort(record);
        const volume = await this.resumeStep(record.id, () => this.openResumed(record.id));
        if (volume) opened.set(record.id, volume);
      }
      for (const [sessionId, volume] of opened) {
        // Stopped between the two steps: its volume is not served.
        if (this.released.has(sessionId) || this.closed) await volume.close().catch(() => undefined);
        else await this.resumeStep(sessionId, () => this.publish(this.record(sessionId), volume));
      }
      for (const record of left.filter((found) => found.state === 'starting' || found.state === 'stopping')) {
        const note =
          record.state === 'stopping'
            ? 'stopped by the operator; the engine restarted during the stop and finished it'
            : 'the engine stopped while this session was starting; its VM, datastore and write cache were removed at the next start';
        await this.tearDown(record.id, null, record.state === 'stopping' ? 'stopped' : 'failed', note).catch(() => undefined);
      }
      return left.length;
    })().catch(() => left.length); // an engine whose start failed closed the catalog under it
  }

  /** Whether a session is this home's to serve: its export folder is in this home. Engines that
   * share a catalog each serve their own sessions (a host mounts the NFS address of the machine
   * that started it); another engine's are left to it, and served again when it starts again. */
  private servedFromHere(record: InstantRecord): boolean {
    return dirname(record.exportFolder) === join(this.deps.home, 'instant');
  }

  private migrationCutShort(record: InstantRecord): void {
    const note = 'the engine stopped during the quick migration; the VM runs on from the backup: migrate it again';
    if (record.jobId) {
      const at = new Date().toISOString();
      this.deps.catalog.addJobEvent(record.jobId, { at, level: 'error', step: null, message: note });
      this.deps.catalog.updateJob(record.jobId, { state: 'failed', error: note, endedAt: at });
    }
    this.update(record.id, { state: 'running', note });
  }

  /** Opens what a session of a previous engine reads (its source, its volume as it was left);
   * null for a clone session, which the array serves on its own. */
  private async openResumed(sessionId: string): Promise<OverlayVolume | null> {
    const record = this.record(sessionId);
    if (record.arrayName) {
      this.live.set(record.id, { kind: 'clone' });
      return null;
    }
    if (!this.sources.has(record.id)) {
      const source = await this.deps.openSource({ id: record.vmId, name: record.vmName }, record.pointId, {
        ...(record.fromRegion ? { fromRegion: record.fromRegion } : {}),
      });
      this.sources.set(record.id, source);
    }
    return this.openVolume(record, true);
  }

  /** Serves a session of a previous engine again, both steps at once (a retry). */
  private async resume(sessionId: string): Promise<void> {
    await this.resumeStep(sessionId, async () => {
      const volume = await this.openResumed(sessionId);
      if (volume) await this.publish(this.record(sessionId), volume);
      if (this.waiting.delete(sessionId)) this.update(sessionId, { note: 'served again after the engine restarted' });
      return volume;
    });
  }

  /** One step of a resume; when it fails with what can clear (its port taken, its key not known,
   * a folder not mounted yet) the session waits (its note says why) and is tried again every few
   * seconds until it is served, stopped, or the engine closes. What cannot clear (a damaged write
   * cache, a cache made for another disk, a cache folder deleted) ends the tries: the note says
   * so, its handles are stale, and it can be stopped. */
  private async resumeStep<T>(sessionId: string, step: () => Promise<T>): Promise<T | null> {
    const record = this.record(sessionId);
    const running = step();
    this.resuming.set(sessionId, running);
    try {
      return await running;
    } catch (error) {
      // Stopped meanwhile, or the engine closing: nothing waits.
      if (this.released.has(sessionId) || this.closed) return null;
      const wire = toWireError(error);
      if (await this.cannotClear(record, wire.code)) {
        this.waiting.delete(record.id);
        this.unservable.add(record.id);
        this.update(record.id, { note: `cannot be served again: ${wire.message}; \`lifeboat instant stop\` ends it` });
        return null;
      }
      const every = `tried again every ${Math.round((this.deps.resumeRetryMs ?? RESUME_RETRY_MS) / 1000)} s`;
      const note =
        wire.code === 'unauthorized'
          ? `waiting for the key since the engine restarted: ${wire.message}; \`lifeboat keys remember <key> --password-env VAR\` lets the engine serve it (${every}), \`lifeboat instant stop\` ends it`
          : `not served since the engine restarted: ${wire.message}; ${every} until it is, \`lifeboat instant stop\` ends it`;
      this.waiting.add(record.id);
      if (record.note !== note) this.update(record.id, { note });
      this.scheduleRetry();
      return null;
    } finally {
      if (this.resuming.get(sessionId) === running) this.resuming.delete(sessionId);
    }
  }

  /** A resume failure no retry can mend: the backup or the write cache damaged, a cache made for
   * another disk or session, or one of the session's folders gone while the folder holding it is
   * there (a folder whose parent is missing too may be a disk not mounted yet: retried). */
  private async cannotClear(record: InstantRecord, code: string): Promise<boolean> {
    if (code === 'corrupt-backup' || code === 'conflict' || code === 'bad-request') return true;
    if (code !== 'not-found') return false;
    for (const folder of [record.exportFolder, record.cacheFolder]) {
      const [found, parent] = await Promise.all([stat(folder).catch(() => null), stat(dirname(folder)).catch(() => null)]);
      if (!found && parent?.isDirectory()) return true;
    }
    return false;
  }

  /** Is this export a session's that this engine will serve again once it can (so a client that
   * shares its server with a served session hears "try again later", not "stale")? */
  private isWaiting({ exportId, generation }: { exportId: number; generation: number }): boolean {
    for (const sessionId of this.waiting) {
      const record = this.deps.catalog.instant.get(sessionId);
      if (record?.exportId === exportId && generationOf(sessionId) === generation) return true;
    }
    return false;
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setInterval(() => {
      this.retrying ??= this.retryWaiting().finally(() => (this.retrying = null));
    }, this.deps.resumeRetryMs ?? RESUME_RETRY_MS);
    this.retryTimer.unref();
  }

  private async retryWaiting(): Promise<void> {
    for (const sessionId of [...this.waiting]) {
      if (this.closed) return;
      // Released (or found final) while an earlier one in this round was tried.
      if (!this.waiting.has(sessionId)) continue;
      if (this.record(sessionId).state !== 'running' || this.live.has(sessionId)) this.waiting.delete(sessionId);
      else await this.resume(sessionId);
    }
    if (this.waiting.size === 0 && this.retryTimer) {
      clearInterval(this.retryTimer);
      this.retryTimer = null;
    }
  }

  /** Stops serving, and leaves every session as it is for the next start to serve again (a
   * graceful shutdown, such as an update, must not take the VMs' storage away for good). The
   * counters so far are kept in the records. */
  async close(): Promise<void> {
    this.closed = true;
    await this.recovered;
    if (this.retryTimer) clearInterval(this.retryTimer);
    this.retryTimer = null;
    await this.retrying;
    for (const [sessionId, live] of this.live) {
      if (live.kind !== 'export') continue;
      const record = this.deps.catalog.instant.get(sessionId);
      if (record) this.deps.catalog.instant.update(sessionId, this.counters(record, live));
    }
    // The servers stop first (no more connections, the open ones dropped: a client reconnects
    // and sends its calls again to the next engine), and only then the volumes close. An export
    // removed while its server still answered would answer NFS3ERR_STALE, final for a client
    // (an I/O error in the guest) during an update's restart.
    const servers = new Set(await Promise.all([...this.servers.values()].map((server) => server.catch(() => null))));
    for (const server of servers) await server?.close().catch(() => undefined);
    this.servers.clear();
    // Each server closed its exports' volumes (every live export is on one).
    this.live.clear();
    for (const sessionId of [...this.serving.keys()]) this.letGoOfServing(sessionId);
    this.sources.clear();
    this.waiting.clear();
    this.unservable.clear();
  }
}
