// The catalog: what the engine knows about VMs, restore points and jobs, in SQLite. Every query
// the engine makes lives here, typed; rows are converted to the shared domain types.
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { LifeboatError } from '../errors.ts';
import { statementOf } from './statements.ts';
import { appendAnchor, dropTornAnchor, readAnchors, type AuditHead } from './audit-anchors.ts';
import {
  CopyPolicy,
  type HostSummary,
  type ProxySummary,
  type Settings,
  type Job,
  type JobEvent,
  type JobSample,
  type JobStep,
  type RestorePoint,
  type CatalogVm,
} from '../../shared/domain.ts';
import type { Manifest } from '../repository/manifest.ts';
import { manifestSha256 } from '../repository/manifest-seal.ts';
import { openCatalogDatabase, openCatalogReadOnly, type CatalogDatabase, type OpenOptions } from './database.ts';
import { FileIndex } from './file-index.ts';
import { InstantCatalog } from './instant-catalog.ts';
import { ArrayCatalog } from './array-catalog.ts';
import { AzureCatalog } from './azure-catalog.ts';
import { CopyCatalog } from './copy-catalog.ts';
import { AccountCatalog } from './account-catalog.ts';
import { TapeCatalog } from './tape-catalog.ts';
import { TapeLibraryCatalog } from './tape-library-catalog.ts';
import { MoverCatalog } from './mover-catalog.ts';
import { ConsoleSessionCatalog } from './console-session-catalog.ts';
import { EngineCatalog, type JobPlacement } from './engine-catalog.ts';

type JobRow = {
  id: string;
  kind: Job['kind'];
  vm_id: string | null;
  vm_name: string;
  state: Job['state'];
  summary: string;
  params: string;
  steps: string;
  current_step: string | null;
  bytes_done: number;
  bytes_total: number;
  error: string | null;
  result: string | null;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  waiting_for: string | null;
  requested_by: string | null;
};

function jobFromRow(row: JobRow): Job {
  return {
    id: row.id,
    kind: row.kind,
    vmId: row.vm_id,
    vmName: row.vm_name,
    state: row.state,
    summary: row.summary,
    steps: JSON.parse(row.steps) as JobStep[],
    currentStep: row.current_step,
    bytesDone: row.bytes_done,
    bytesTotal: row.bytes_total,
    error: row.error,
    result: row.result === null ? null : (JSON.parse(row.result) as Record<string, unknown>),
    createdAt: row.created_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    waitingFor: row.waiting_for,
    requestedBy: row.requested_by,
    // Where a queued job stands is the live scheduler's to say (JobQueue.placed), not the catalog's.
    queue: null,
  };
}

export type JobPatch = Partial<
  Pick<
    Job,
    | 'state'
    | 'currentStep'
    | 'bytesDone'
    | 'bytesTotal'
    | 'error'
    | 'result'
    | 'startedAt'
    | 'endedAt'
    | 'steps'
    | 'vmId'
    | 'vmName'
    | 'waitingFor'
  >
>;

const patchColumns: Record<keyof JobPatch, string> = {
  state: 'state',
  currentStep: 'current_step',
  bytesDone: 'bytes_done',
  bytesTotal: 'bytes_total',
  error: 'error',
  result: 'result',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  steps: 'steps',
  vmId: 'vm_id',
  vmName: 'vm_name',
  waitingFor: 'waiting_for',
};

/** A restore point as the catalog knows it; its health comes from reading the repository. */
export type CatalogPoint = Omit<RestorePoint, 'health'>;

export class Catalog {
  private readonly db: CatalogDatabase;
  readonly files: FileIndex;
  readonly tapes: TapeCatalog;
  readonly tapeLibraries: TapeLibraryCatalog;
  readonly instant: InstantCatalog;
  readonly arrays: ArrayCatalog;
  readonly azure: AzureCatalog;
  readonly copies: CopyCatalog;
  readonly accounts: AccountCatalog;
  readonly movers: MoverCatalog;
  readonly consoleSessions: ConsoleSessionCatalog;
  readonly engines: EngineCatalog;

  private constructor(db: CatalogDatabase) {
    this.db = db;
    this.files = new FileIndex(db);
    this.tapes = new TapeCatalog(db);
    this.tapeLibraries = new TapeLibraryCatalog(db);
    this.instant = new InstantCatalog(db);
    this.arrays = new ArrayCatalog(db);
    this.azure = new AzureCatalog(db);
    this.copies = new CopyCatalog(db);
    this.accounts = new AccountCatalog(db);
    this.movers = new MoverCatalog(db);
    this.consoleSessions = new ConsoleSessionCatalog(db);
    this.engines = new EngineCatalog(db);
  }

  /** `anchorsPath`: where the audit log's head is anchored outside the table (audit-anchors.ts). */
  static open(path: string, anchorsPath = join(dirname(path), 'audit', 'anchors.log'), options: OpenOptions = {}): Catalog {
    const catalog = new Catalog(openCatalogDatabase(path, options));
    catalog.anchorsPath = anchorsPath;
    return catalog;
  }

  /** The catalog for reading alone (every write fails), or null when only the engine may open it
   * (see openCatalogReadOnly). */
  static openReadOnly(path: string): Catalog | null {
    const db = openCatalogReadOnly(path);
    return db ? new Catalog(db) : null;
  }

  private anchorsPath = '';
  /** Whether this process has seen anchoring begun (an 'audit.anchored' entry in the table). */
  private anchoring = false;

  close(): void {
    this.db.close();
  }

  ensureRepository(repository: { id: string; name: string; path: string; blockSize: number }): void {
    this.db
      .prepare(
        'INSERT INTO repositories (id, name, path, block_size, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET path = excluded.path',
      )
      .run(repository.id, repository.name, repository.path, repository.blockSize, new Date().toISOString());
  }

  hasPoint(pointId: string): boolean {
    return this.db.prepare('SELECT 1 FROM restore_points WHERE id = ?').get(pointId) !== undefined;
  }

  /** Records a committed point (idempotent: the repository is the truth, the catalog its index).
   * Its manifest's hash is recorded with it (`sha256`: as read from the repository, when the
   * point is indexed from there): from then on a manifest that differs is damaged. */
  recordPoint(
    manifest: Manifest,
    repositoryId: string,
    source: string | null,
    biosUuid: string | null,
    sha256 = manifestSha256(manifest),
  ): void {
    this.db.transaction(() => {
      const now = new Date().toISOString();
      this.db
        .prepare(
          `INSERT INTO vms (id, name, source, bios_uuid, created_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(id) DO UPDATE SET name = excluded.name, source = COALESCE(excluded.source, vms.source), bios_uuid = COALESCE(excluded.bios_uuid, vms.bios_uuid)`,
        )
        .run(manifest.vmId, manifest.vmName, source, biosUuid, now);
      const backupId = `${manifest.vmId}@${repositoryId}`;
      this.db
        .prepare('INSERT OR IGNORE INTO backups (id, vm_id, repository_id, created_at) VALUES (?, ?, ?, ?)')
        .run(backupId, manifest.vmId, repositoryId, now);
      const inserted = this.db
        .prepare(
          `INSERT OR IGNORE INTO restore_points (id, backup_id, vm_id, sequence, kind, parent_id, created_at, scanned_bytes, changed_bytes, stored_bytes, key_id, manifest_sha256)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          manifest.id,
          backupId,
          manifest.vmId,
          manifest.sequence,
          manifest.kind,
          manifest.parentId,
          manifest.createdAt,
          manifest.stats.scannedBytes,
          manifest.stats.changedBytes,
          manifest.stats.storedBytes,
          manifest.encryption?.keyId ?? null,
          sha256,
        );
      if (inserted.changes === 0) return;
      const disk = this.db.prepare('INSERT INTO disks (point_id, disk_key, file_name, capacity, source_format) VALUES (?, ?, ?, ?, ?)');
      for (const entry of manifest.disks) disk.run(manifest.id, entry.key, entry.fileName, entry.capacity, entry.sourceFormat);
    })();
  }

  listVms(): CatalogVm[] {
    const rows = this.db
      .prepare(
        `SELECT v.id, v.name, v.source,
                (SELECT COUNT(*) FROM restore_points p WHERE p.vm_id = v.id) AS point_count,
                latest.id AS latest_id, latest.created_at AS latest_at,
                (SELECT COUNT(*) FROM disks d WHERE d.point_id = latest.id) AS disk_count,
                (SELECT COALESCE(SUM(capacity), 0) FROM disks d WHERE d.point_id = latest.id) AS provisioned
         FROM vms v
         LEFT JOIN restore_points latest ON latest.id = (SELECT id FROM restore_points p WHERE p.vm_id = v.id ORDER BY sequence DESC LIMIT 1)
         ORDER BY v.name COLLATE NOCASE`,
      )
      .all() as {
      id: string;
      name: string;
      source: string | null;
      point_count: number;
      latest_id: string | null;
      latest_at: string | null;
      disk_count: number;
      provisioned: number;
    }[];
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      source: row.source,
      pointCount: row.point_count,
      latestPointId: row.latest_id,
      latestPointAt: row.latest_at,
      diskCount: row.disk_count,
      provisionedBytes: row.provisioned,
    }));
  }

  /** A VM by id, or by name when the name is unique. */
  findVm(idOrName: string): { id: string; name: string; matches: number } | null {
    const byId = this.db.prepare('SELECT id, name FROM vms WHERE id = ?').get(idOrName) as { id: string; name: string } | undefined;
    if (byId) return { ...byId, matches: 1 };
    const byName = this.db.prepare('SELECT id, name FROM vms WHERE name = ? COLLATE NOCASE').all(idOrName) as {
      id: string;
      name: string;
    }[];
    const first = byName[0];
    return first ? { ...first, matches: byName.length } : null;
  }

  /** The manifest hash recorded for a point (null: none, a point older than the record). */
  manifestSha256(pointId: string): string | null {
    const row = this.db.prepare('SELECT manifest_sha256 FROM restore_points WHERE id = ?').get(pointId) as
      { manifest_sha256: string | null } | undefined;
    return row?.manifest_sha256 ?? null;
  }

  /** Records the hash of a point made before hashes were recorded, as first read: later changes
   * are then caught (earlier ones cannot be). Never replaces a recorded hash. */
  adoptManifestSha256(pointId: string, sha256: string): void {
    this.db.prepare('UPDATE restore_points SET manifest_sha256 = ? WHERE id = ? AND manifest_sha256 IS NULL').run(sha256, pointId);
  }

  listPoints(vmId: string): CatalogPoint[] {
    const points = this.db
      .prepare(
        `SELECT p.id, p.vm_id, p.sequence, p.kind, p.created_at, p.parent_id, b.repository_id, p.changed_bytes, p.stored_bytes, p.key_id
         FROM restore_points p JOIN backups b ON b.id = p.backup_id WHERE p.vm_id = ? ORDER BY p.sequence DESC`,
      )
      .all(vmId) as {
      id: string;
      vm_id: string;
      sequence: number;
      kind: 'full' | 'incremental';
      created_at: string;
      parent_id: string | null;
      repository_id: string;
      changed_bytes: number;
      stored_bytes: number;
      key_id: string | null;
    }[];
    // Disks and copies for the whole VM at once (a query per point costs a round trip each on PostgreSQL).
    const disks = new Map<string, CatalogPoint['disks']>();
    for (const disk of statementOf(
      this.db,
      'SELECT d.point_id, d.disk_key AS key, d.file_name AS fileName, d.capacity FROM disks d JOIN restore_points p ON p.id = d.point_id WHERE p.vm_id = ? ORDER BY d.point_id, d.disk_key',
    ).all(vmId) as { point_id: string; key: string; fileName: string; capacity: number }[]) {
      const list = disks.get(disk.point_id) ?? [];
      list.push({ key: disk.key, fileName: disk.fileName, capacity: disk.capacity });
      disks.set(disk.point_id, list);
    }
    const copies = this.copies.pointCopiesOf(vmId);
    return points.map((row) => ({
      id: row.id,
      vmId: row.vm_id,
      sequence: row.sequence,
      kind: row.kind,
      createdAt: row.created_at,
      parentId: row.parent_id,
      repositoryId: row.repository_id,
      disks: disks.get(row.id) ?? [],
      changedBytes: row.changed_bytes,
      storedBytes: row.stored_bytes,
      copies: copies.get(row.id) ?? [],
      keyId: row.key_id,
    }));
  }

  /** Names of the VMs whose points are sealed with this chain key. */
  vmsWithKey(keyId: string): string[] {
    return (
      this.db
        .prepare('SELECT DISTINCT v.name FROM restore_points p JOIN vms v ON v.id = p.vm_id WHERE p.key_id = ? ORDER BY v.name')
        .all(keyId) as { name: string }[]
    ).map((row) => row.name);
  }

  /** Runs `body` in one transaction: all of it is written, or none. */
  atomically<T>(body: () => T): T {
    return this.db.transaction(body)();
  }

  insertJob(job: Job, params: unknown, placement: JobPlacement = { engineId: null, shared: false }): void {
    statementOf(
      this.db,
      `INSERT INTO jobs (id, kind, vm_id, vm_name, state, summary, params, steps, current_step, bytes_done, bytes_total, error, result, created_at, started_at, ended_at, waiting_for, requested_by, engine_id, shared)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      job.id,
      job.kind,
      job.vmId,
      job.vmName,
      job.state,
      job.summary,
      JSON.stringify(params),
      JSON.stringify(job.steps),
      job.currentStep,
      job.bytesDone,
      job.bytesTotal,
      job.error,
      job.result === null ? null : JSON.stringify(job.result),
      job.createdAt,
      job.startedAt,
      job.endedAt,
      job.waitingFor,
      job.requestedBy,
      placement.engineId,
      placement.shared ? 1 : 0,
    );
  }

  updateJob(id: string, patch: JobPatch): Job {
    const keys = Object.keys(patch) as (keyof JobPatch)[];
    if (keys.length > 0) {
      const values = keys.map((key) => {
        const value = patch[key];
        return key === 'steps' || (key === 'result' && value !== null) ? JSON.stringify(value) : value;
      });
      statementOf(this.db, `UPDATE jobs SET ${keys.map((key) => `${patchColumns[key]} = ?`).join(', ')} WHERE id = ?`).run(...values, id);
    }
    return this.getJob(id) as Job;
  }

  /** A job's end and the release of what it recorded, in one transaction: dying between the two
   * would leave a succeeded job's published files to the janitor, or an ended job unreleased. */
  endJob(id: string, patch: JobPatch): Job {
    return this.db.transaction(() => {
      this.releaseResources(id);
      return this.updateJob(id, patch);
    })();
  }

  /** The full id of a job or Instant Recovery session named by its id or by a unique prefix of
   * at least 6 characters (the console and the CLI show the first 8). Text that is neither comes
   * back unchanged, for the handler to say it does not exist. */
  expandId(kind: 'job' | 'session', text: string): string {
    const table = kind === 'job' ? 'jobs' : 'instant_sessions';
    if (!/^[0-9a-f-]{6,35}$/i.test(text) || statementOf(this.db, `SELECT 1 FROM ${table} WHERE id = ?`).get(text)) return text;
    const prefix = text.toLowerCase();
    const rows = statementOf(this.db, `SELECT id FROM ${table} WHERE substr(id, 1, ?) = ? LIMIT 2`).all(prefix.length, prefix) as {
      id: string;
    }[];
    if (rows.length > 1)
      throw new LifeboatError(
        'conflict',
        `more than one ${kind === 'job' ? 'job' : 'Instant Recovery session'} id starts with ${text}; give more of it`,
      );
    return rows[0]?.id ?? text;
  }

  getJob(id: string): Job | null {
    const row = statementOf(this.db, 'SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    return row ? jobFromRow(row) : null;
  }

  jobParams(id: string): unknown {
    const row = this.db.prepare('SELECT params FROM jobs WHERE id = ?').get(id) as { params: string } | undefined;
    return row ? (JSON.parse(row.params) as unknown) : null;
  }

  listJobs(limit = 1000): Job[] {
    return (this.db.prepare('SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?').all(limit) as JobRow[]).map(jobFromRow);
  }

  jobsInState(states: readonly Job['state'][]): Job[] {
    return (
      this.db
        .prepare(`SELECT * FROM jobs WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY created_at, rowid`)
        .all(...states) as JobRow[]
    ).map(jobFromRow);
  }

  addJobEvent(jobId: string, event: JobEvent): void {
    statementOf(this.db, 'INSERT INTO job_events (job_id, at, level, step, message) VALUES (?, ?, ?, ?, ?)').run(
      jobId,
      event.at,
      event.level,
      event.step,
      event.message,
    );
  }

  addJobSample(jobId: string, atMs: number, bytesDone: number): void {
    statementOf(this.db, 'INSERT OR REPLACE INTO job_samples (job_id, at_ms, bytes_done) VALUES (?, ?, ?)').run(
      jobId,
      Math.floor(atMs),
      Math.floor(bytesDone),
    );
  }

  /** A job's progress over time, oldest first (at most the last 2,000 samples). */
  jobSamples(jobId: string): JobSample[] {
    const rows = this.db
      .prepare('SELECT at_ms AS at, bytes_done AS bytesDone FROM job_samples WHERE job_id = ? ORDER BY at_ms DESC LIMIT 2000')
      .all(jobId) as JobSample[];
    return rows.reverse();
  }

  jobEvents(jobId: string): JobEvent[] {
    return this.db.prepare('SELECT at, level, step, message FROM job_events WHERE job_id = ? ORDER BY id').all(jobId) as JobEvent[];
  }

  /** Appends to the audit log; each entry's hash covers the previous one's, so an edited or
   * removed entry breaks the chain (`verifyAudit`). Triggers refuse UPDATE and DELETE. */
  audit(actor: string, action: string, subject: string | null, details: unknown): void {
    // The first entry ever anchored says so in the chain itself: from then on a missing
    // anchor file is a finding, not a home from before anchors.
    if (!this.anchoring) {
      dropTornAnchor(this.anchorsPath);
      if (!this.auditEntryNamed('audit.anchored')) this.appendAudit('engine', 'audit.anchored', null, { anchors: this.anchorsPath });
      this.anchoring = true;
    }
    this.appendAudit(actor, action, subject, details);
  }

  private appendAudit(actor: string, action: string, subject: string | null, details: unknown): void {
    const entry = { at: new Date().toISOString(), actor, action, subject, details: JSON.stringify(details) };
    const head = this.db.transaction((): AuditHead => {
      const previous = this.auditHead()?.hash ?? '';
      const hash = auditHash(previous, entry);
      const { lastInsertRowid } = statementOf(
        this.db,
        'INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(entry.at, entry.actor, entry.action, entry.subject, entry.details, previous, hash);
      return { id: Number(lastInsertRowid), hash };
    })();
    // After the commit, so an anchor never names a row that could still roll back.
    appendAnchor(this.anchorsPath, { ...head, at: entry.at });
  }

  private auditEntryNamed(action: string): { id: number } | undefined {
    return this.db.prepare('SELECT id FROM audit_log WHERE action = ? ORDER BY id LIMIT 1').get(action) as { id: number } | undefined;
  }

  /** The last entry of the audit log: what a new restore point's manifest records. */
  auditHead(): AuditHead | null {
    return (statementOf(this.db, 'SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1').get() as AuditHead | undefined) ?? null;
  }

  auditEntries(limit = 200): AuditEntry[] {
    return this.db
      .prepare('SELECT id, at, actor, action, subject, details FROM audit_log ORDER BY id DESC LIMIT ?')
      .all(limit) as AuditEntry[];
  }

  /** Recomputes the audit chain, then holds it against its heads kept elsewhere: the anchor file
   * and the heads restore points recorded (`pointHeads`). The first thing that does not fit is named. */
  verifyAudit(pointHeads: { pointId: string; head: AuditHead }[] = []): { entries: number; intact: boolean; problem: string | null } {
    const rows = this.db
      .prepare('SELECT id, at, actor, action, subject, details, prev_hash, hash FROM audit_log ORDER BY id')
      .all() as AuditRow[];
    const problem = chainProblem(rows) ?? this.anchorProblem(rows) ?? pointHeadProblem(rows, pointHeads);
    return { entries: rows.length, intact: problem === null, problem };
  }

  private anchorProblem(rows: AuditRow[]): string | null {
    const path = this.anchorsPath;
    let anchors;
    try {
      anchors = readAnchors(path);
    } catch (error) {
      if (error instanceof LifeboatError) return error.message;
      throw error;
    }
    const began = rows.find((row) => row.action === 'audit.anchored');
    if (anchors === null)
      return began ? `audit anchors missing: ${path} is gone, and entries from ${began.id} on were anchored there` : null;
    const byId = new Map(rows.map((row) => [row.id, row]));
    for (const anchor of anchors) {
      const row = byId.get(anchor.id);
      if (!row) return `audit log truncated: row ${anchor.id} anchored at ${anchor.at} is missing`;
      if (row.hash !== anchor.hash) return `audit entry ${anchor.id} does not match its anchor of ${anchor.at}: the log was rewritten`;
    }
    if (began && anchors[0]?.id !== began.id)
      return `audit anchors ${path} do not begin at entry ${began.id}, where anchoring began: the file was replaced or cut`;
    return null;
  }

  addHost(host: HostSummary): void {
    this.db
      .prepare('INSERT INTO hosts (id, name, kind, url, user_name, insecure, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(host.id, host.name, host.kind, host.url, host.user, host.insecure ? 1 : 0, host.createdAt);
  }

  listHosts(): HostSummary[] {
    const rows = this.db.prepare('SELECT id, name, kind, url, user_name, insecure, created_at FROM hosts ORDER BY name').all() as {
      id: string;
      name: string;
      kind: 'vsphere';
      url: string;
      user_name: string;
      insecure: number;
      created_at: string;
    }[];
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      kind: row.kind,
      url: row.url,
      user: row.user_name,
      insecure: row.insecure === 1,
      createdAt: row.created_at,
    }));
  }

  findHost(name: string): HostSummary | null {
    return this.listHosts().find((host) => host.name === name) ?? null;
  }

  removeHost(id: string): void {
    this.db.prepare('DELETE FROM hosts WHERE id = ?').run(id);
  }

  addProxy(proxy: ProxySummary, hostId: string): void {
    this.db
      .prepare(
        'INSERT INTO proxies (id, name, host_id, transports, proxy_vm, datastore_paths, max_tasks, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        proxy.id,
        proxy.name,
        hostId,
        JSON.stringify(proxy.transports),
        proxy.proxyVm,
        JSON.stringify(proxy.datastorePaths),
        proxy.maxTasks,
        proxy.createdAt,
      );
  }

  listProxies(): ProxySummary[] {
    const rows = this.db
      .prepare(
        'SELECT p.id, p.name, h.name AS host, p.transports, p.proxy_vm, p.datastore_paths, p.max_tasks, p.created_at FROM proxies p JOIN hosts h ON h.id = p.host_id ORDER BY p.name',
      )
      .all() as {
      id: string;
      name: string;
      host: string;
      transports: string;
      proxy_vm: string | null;
      datastore_paths: string;
      max_tasks: number;
      created_at: string;
    }[];
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      host: row.host,
      transports: JSON.parse(row.transports) as ProxySummary['transports'],
      proxyVm: row.proxy_vm,
      datastorePaths: JSON.parse(row.datastore_paths) as Record<string, string>,
      maxTasks: row.max_tasks,
      createdAt: row.created_at,
    }));
  }

  removeProxy(id: string): void {
    this.db.prepare('DELETE FROM proxies WHERE id = ?').run(id);
  }

  /** Which blocks of a disk a restore has written and synced: per worker slot, the index below
   * which its stripe is done. One row per disk, rewritten in place: a bounded cost. */
  saveCheckpoint(jobId: string, diskKey: string, checkpoint: DiskCheckpoint): void {
    this.db
      .prepare(
        `INSERT INTO job_checkpoints (job_id, disk_key, slots, watermarks, complete, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(job_id, disk_key) DO UPDATE SET slots = excluded.slots, watermarks = excluded.watermarks, complete = excluded.complete, updated_at = excluded.updated_at`,
      )
      .run(
        jobId,
        diskKey,
        checkpoint.watermarks.length,
        JSON.stringify(checkpoint.watermarks),
        checkpoint.complete ? 1 : 0,
        new Date().toISOString(),
      );
  }

  loadCheckpoint(jobId: string, diskKey: string): DiskCheckpoint | null {
    const row = this.db
      .prepare('SELECT watermarks, complete FROM job_checkpoints WHERE job_id = ? AND disk_key = ?')
      .get(jobId, diskKey) as { watermarks: string; complete: number } | undefined;
    return row ? { watermarks: JSON.parse(row.watermarks) as number[], complete: row.complete === 1 } : null;
  }

  settings(): Settings {
    const rows = this.db.prepare('SELECT key, value FROM settings').all() as { key: string; value: string }[];
    const values = new Map(rows.map((row) => [row.key, row.value]));
    const policy = CopyPolicy.safeParse(values.get('copyPolicy'));
    return { fourEyes: values.get('fourEyes') === 'true', copyPolicy: policy.success ? policy.data : 'none' };
  }

  updateSettings(patch: Partial<Settings>): Settings {
    const put = this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    for (const [key, value] of Object.entries(patch)) put.run(key, String(value));
    return this.settings();
  }

  /** Records something a job is about to create, so it can be removed even after a crash. */
  recordResource(jobId: string, kind: ResourceKind, ref: Record<string, string>): number {
    return Number(
      this.db
        .prepare('INSERT INTO job_resources (job_id, kind, ref, created_at) VALUES (?, ?, ?, ?)')
        .run(jobId, kind, JSON.stringify(ref), new Date().toISOString()).lastInsertRowid,
    );
  }

  updateResource(id: number, ref: Record<string, string>): void {
    this.db.prepare('UPDATE job_resources SET ref = ? WHERE id = ?').run(JSON.stringify(ref), id);
  }

  releaseResources(jobId: string, ids?: number[]): void {
    const now = new Date().toISOString();
    if (!ids) statementOf(this.db, 'UPDATE job_resources SET released_at = ? WHERE job_id = ? AND released_at IS NULL').run(now, jobId);
    else for (const id of ids) statementOf(this.db, 'UPDATE job_resources SET released_at = ? WHERE id = ?').run(now, id);
  }

  openResources(jobId?: string): JobResource[] {
    const rows = (
      jobId
        ? this.db
            .prepare(
              'SELECT id, job_id, kind, ref, created_at FROM job_resources WHERE released_at IS NULL AND job_id = ? ORDER BY id DESC',
            )
            .all(jobId)
        : this.db.prepare('SELECT id, job_id, kind, ref, created_at FROM job_resources WHERE released_at IS NULL ORDER BY id DESC').all()
    ) as { id: number; job_id: string; kind: ResourceKind; ref: string; created_at: string }[];
    return rows.map((row) => ({
      id: row.id,
      jobId: row.job_id,
      kind: row.kind,
      ref: JSON.parse(row.ref) as Record<string, string>,
      createdAt: row.created_at,
    }));
  }
}

export type DiskCheckpoint = { watermarks: number[]; complete: boolean };

/** What a job can record before making it, for the janitor (job_resources.kind). */
export const resourceKinds = [
  'staging-folder',
  'target-folder',
  'published-file',
  'partial-point',
  'vsphere-vm',
  'vsphere-hot-added-disk',
  'array-clone',
  'vsphere-snapshot',
] as const;
export type ResourceKind = (typeof resourceKinds)[number];
export type JobResource = { id: number; jobId: string; kind: ResourceKind; ref: Record<string, string>; createdAt: string };

export type AuditEntry = { id: number; at: string; actor: string; action: string; subject: string | null; details: string };

type AuditRow = AuditEntry & { prev_hash: string; hash: string };

function chainProblem(rows: AuditRow[]): string | null {
  let previous = '';
  let chained = false;
  for (const row of rows) {
    if (!chained && row.hash === '') continue; // written before the chain existed
    chained = true;
    if (row.prev_hash !== previous)
      return `entry ${row.id} (${row.action}) does not follow the entry before it: one was removed or changed`;
    if (row.hash !== auditHash(previous, row)) return `entry ${row.id} (${row.action}) was changed after it was written`;
    previous = row.hash;
  }
  return null;
}

function pointHeadProblem(rows: AuditRow[], pointHeads: { pointId: string; head: AuditHead }[]): string | null {
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const { pointId, head } of pointHeads) {
    const row = byId.get(head.id);
    if (!row) return `audit log truncated: row ${head.id}, recorded by restore point ${pointId}, is missing`;
    if (row.hash !== head.hash)
      return `audit entry ${head.id} does not match what restore point ${pointId} recorded: the log was rewritten`;
  }
  return null;
}

function auditHash(
  previous: string,
  entry: { at: string; actor: string; action: string; subject: string | null; details: string },
): string {
  return createHash('sha256')
    .update(JSON.stringify([previous, entry.at, entry.actor, entry.action, entry.subject, entry.details]))
    .digest('hex');
}
