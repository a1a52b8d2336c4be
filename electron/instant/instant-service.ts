// Instant Recovery sessions of one engine: each a restore point served over NFS (one server per
// listen address, shared by its sessions), mounted on an ESXi host as a datastore, its VM
// registered and running there until it is migrated to production or stopped. Sessions live in
// the engine; one that an engine left behind is taken down at the next start.
import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { RequestOf } from '../../shared/contract.ts';
import { endedInstantStates, type InstantSession, type Job } from '../../shared/domain.ts';
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
  /** The quick migration's work for a running session. */
  migrationWork(
    sessions: SessionHost,
    sessionId: string,
    jobId: string,
    request: { datastore: string; transport: 'auto' | 'san' | 'hotadd' },
  ): JobWork;
};

/** A live session: served from the backup by our NFS server, or running from an array clone. */
type Live = { kind: 'export'; listen: string; server: NfsServer; exportId: number; volume: OverlayVolume } | { kind: 'clone' };

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
function startingRecord(
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
  /** The repository each session of this engine reads (its key, when encrypted, lives only here). */
  private readonly sources = new Map<string, Repository>();
  /** The start-up clean-up of sessions a previous engine left behind. */
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
      server = NfsServer.listen(address, port, port === 2049 ? { portmapperPort: PORTMAP_PORT } : {});
      server.catch(() => this.servers.delete(listen));
      this.servers.set(listen, server);
    }
    return server;
  }

  async serve(sessionId: string): Promise<{ url: string; writesTo: string }> {
    const record = this.record(sessionId);
    if (record.arrayName) return this.serveClone(record, record.arrayName);
    const server = await this.server(record.listen);
    const volume = await openBackupVolume(
      this.sourceOf(sessionId),
      record.vmId,
      record.pointId,
      { exportFolder: record.exportFolder, cacheFolder: record.cacheFolder },
      this.deps.decode,
    );
    try {
      const exportId = server.addExport(record.exportPath, volume, record.allowed);
      this.live.set(sessionId, { kind: 'export', listen: record.listen, server, exportId, volume });
    } catch (error) {
      await volume.close();
      throw error;
    }
    return { url: this.nfsUrl(record), writesTo: record.cacheFolder };
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
    const { address, port } = parseListen(this.record(sessionId).listen);
    const live = this.live.get(sessionId);
    return { address, port: live?.kind === 'export' ? live.server.port : port };
  }

  private nfsUrl(record: InstantRecord): string {
    const { address, port } = this.listenOf(record.id);
    const host = address.includes(':') ? `[${address}]` : address;
    return `nfs://${host}${record.exportPath}${port === 2049 ? '' : `?nfsport=${port}&mountport=${port}`}`;
  }

  volumeOf(sessionId: string): OverlayVolume | null {
    const live = this.live.get(sessionId);
    return live?.kind === 'export' ? live.volume : null;
  }

  async release(sessionId: string, end: EndState, note: string | null): Promise<void> {
    const live = this.live.get(sessionId);
    const counted: InstantPatch = {};
    this.live.delete(sessionId);
    this.sources.delete(sessionId);
    const record = this.record(sessionId);
    if (record.arrayName) {
      // The clone goes with its presentations; found by the session id it carries.
      await this.arrayOf(record.arrayName).removeClonesOf(sessionId);
    } else {
      if (live?.kind === 'export') {
        const stats = live.server.stats(live.exportId);
        Object.assign(counted, {
          bytesRead: stats?.bytesRead ?? 0,
          bytesWritten: stats?.bytesWritten ?? 0,
          cacheBytes: live.volume.cachedBytes,
        });
        if (stats?.firstReadAt) counted.firstReadMs = stats.firstReadAt - Date.parse(record.createdAt);
        live.server.removeExport(live.exportId);
        await live.volume.close();
        if (
          live.server.exportCount === 0 &&
          ![...this.live.values()].some((other) => other.kind === 'export' && other.listen === live.listen)
        ) {
          this.servers.delete(live.listen);
          await live.server.close();
        }
      }
      await rm(record.exportFolder, { recursive: true, force: true });
      await rm(record.cacheFolder, { recursive: true, force: true });
    }
    this.update(sessionId, { ...counted, state: end, note, endedAt: new Date().toISOString() });
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
    if (!this.live.has(record.id))
      throw new LifeboatError('conflict', `session ${record.id.slice(0, 8)} belongs to an engine that has stopped`);
    return record;
  }

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
    const firstReadMs = stats?.firstReadAt ? stats.firstReadAt - Date.parse(record.createdAt) : record.firstReadMs;
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
      note: record.note,
      createdAt: record.createdAt,
      endedAt: record.endedAt,
      poweredOnSeconds: record.poweredOnMs === null ? null : record.poweredOnMs / 1000,
      firstReadSeconds: firstReadMs === null ? null : firstReadMs / 1000,
      cacheBytes: exported?.volume.cachedBytes ?? record.cacheBytes,
      bytesRead: stats?.bytesRead ?? record.bytesRead,
      bytesWritten: stats?.bytesWritten ?? record.bytesWritten,
      jobId: record.jobId,
    };
  }

  list(): InstantSession[] {
    return this.deps.catalog.instant.list().map((record) => this.summary(record));
  }

  /** Sessions a previous engine left: their VMs, datastores and caches are taken away. */
  recoverAfterRestart(): void {
    const left = this.deps.catalog.instant.inStates(['starting', 'running', 'migrating', 'stopping']);
    this.recovered = (async () => {
      for (const record of left) {
        await this.tearDown(
          record.id,
          null,
          'stopped',
          'the engine stopped while this session ran; its VM, datastore and write cache were removed at the next start',
        ).catch(() => undefined);
      }
      return left.length;
    })();
  }

  /** Ends every live session (the VMs cannot run without the engine's NFS server). */
  async close(): Promise<void> {
    await this.recovered;
    for (const sessionId of [...this.live.keys()]) {
      if (!endedInstantStates.has(this.record(sessionId).state))
        await this.tearDown(sessionId, null, 'stopped', 'the engine shut down').catch(() => undefined);
    }
    for (const server of this.servers.values()) await server.then((open) => open.close()).catch(() => undefined);
    this.servers.clear();
  }
}
