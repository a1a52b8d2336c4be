// Instant Recovery sessions in the catalog: written before anything is mounted or registered,
// so an engine that dies mid-session leaves a record the next start resumes (running) or cleans
// up from (starting, stopping).
import type { InstantState } from '../../shared/domain.ts';
import type { CatalogDatabase, CatalogStatement } from './database.ts';
import { statementOf } from './statements.ts';

export type InstantRecord = {
  id: string;
  vmId: string;
  vmName: string;
  pointId: string;
  name: string;
  host: string;
  hostSystem: string | null;
  datastore: string;
  listen: string;
  exportPath: string;
  allowed: string[];
  exportFolder: string;
  cacheFolder: string;
  redirected: boolean;
  state: InstantState;
  note: string | null;
  jobId: string | null;
  createdAt: string;
  endedAt: string | null;
  poweredOnMs: number | null;
  firstReadMs: number | null;
  bytesRead: number;
  bytesWritten: number;
  cacheBytes: number;
  /** A session from a storage snapshot runs from a clone on this array (null: from the backup). */
  arrayName: string | null;
  cloneId: string | null;
  /** The VM's folder on the datastore (null: its name). */
  vmFolder: string | null;
  /** The NFS export id its file handles carry: stable across engine restarts, never reused
   * (null: a session from before they were kept, or one run from an array clone). */
  exportId: number | null;
  /** The port its NFS server bound (a listen address with port 0 gets one), bound again after a restart. */
  servedPort: number | null;
  /** The copies' region the session reads from (null: the fastest whole copy), chosen again after a restart. */
  fromRegion: string | null;
};

export type InstantPatch = Partial<
  Pick<
    InstantRecord,
    | 'state'
    | 'note'
    | 'jobId'
    | 'endedAt'
    | 'hostSystem'
    | 'poweredOnMs'
    | 'firstReadMs'
    | 'bytesRead'
    | 'bytesWritten'
    | 'cacheBytes'
    | 'datastore'
    | 'exportPath'
    | 'exportFolder'
    | 'cloneId'
    | 'exportId'
    | 'servedPort'
  >
>;

const columns: Record<keyof InstantPatch, string> = {
  state: 'state',
  note: 'note',
  jobId: 'job_id',
  endedAt: 'ended_at',
  hostSystem: 'host_system',
  poweredOnMs: 'powered_on_ms',
  firstReadMs: 'first_read_ms',
  bytesRead: 'bytes_read',
  bytesWritten: 'bytes_written',
  cacheBytes: 'cache_bytes',
  datastore: 'datastore',
  exportPath: 'export_path',
  exportFolder: 'export_folder',
  cloneId: 'clone_id',
  exportId: 'export_id',
  servedPort: 'served_port',
};

type Row = {
  id: string;
  vm_id: string;
  vm_name: string;
  point_id: string;
  name: string;
  host: string;
  host_system: string | null;
  datastore: string;
  listen: string;
  export_path: string;
  allowed: string;
  export_folder: string;
  cache_folder: string;
  redirected: number;
  state: InstantState;
  note: string | null;
  job_id: string | null;
  created_at: string;
  ended_at: string | null;
  powered_on_ms: number | null;
  first_read_ms: number | null;
  bytes_read: number;
  bytes_written: number;
  cache_bytes: number;
  array_name: string | null;
  clone_id: string | null;
  vm_folder: string | null;
  export_id: number | null;
  served_port: number | null;
  from_region: string | null;
};

function fromRow(row: Row): InstantRecord {
  return {
    id: row.id,
    vmId: row.vm_id,
    vmName: row.vm_name,
    pointId: row.point_id,
    name: row.name,
    host: row.host,
    hostSystem: row.host_system,
    datastore: row.datastore,
    listen: row.listen,
    exportPath: row.export_path,
    allowed: JSON.parse(row.allowed) as string[],
    exportFolder: row.export_folder,
    cacheFolder: row.cache_folder,
    redirected: row.redirected === 1,
    state: row.state,
    note: row.note,
    jobId: row.job_id,
    createdAt: row.created_at,
    endedAt: row.ended_at,
    poweredOnMs: row.powered_on_ms,
    firstReadMs: row.first_read_ms,
    bytesRead: row.bytes_read,
    bytesWritten: row.bytes_written,
    cacheBytes: row.cache_bytes,
    arrayName: row.array_name,
    cloneId: row.clone_id,
    vmFolder: row.vm_folder,
    exportId: row.export_id,
    servedPort: row.served_port,
    fromRegion: row.from_region,
  };
}

export class InstantCatalog {
  private readonly db: CatalogDatabase;

  constructor(db: CatalogDatabase) {
    this.db = db;
  }

  private statement(sql: string): CatalogStatement {
    return statementOf(this.db, sql);
  }

  insert(record: InstantRecord): void {
    this.statement(
      `INSERT INTO instant_sessions (id, vm_id, vm_name, point_id, name, host, host_system, datastore, listen, export_path, allowed, export_folder,
           cache_folder, redirected, state, note, job_id, created_at, ended_at, powered_on_ms, first_read_ms, bytes_read, bytes_written, cache_bytes, array_name, clone_id, vm_folder,
           export_id, served_port, from_region)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      record.id,
      record.vmId,
      record.vmName,
      record.pointId,
      record.name,
      record.host,
      record.hostSystem,
      record.datastore,
      record.listen,
      record.exportPath,
      JSON.stringify(record.allowed),
      record.exportFolder,
      record.cacheFolder,
      record.redirected ? 1 : 0,
      record.state,
      record.note,
      record.jobId,
      record.createdAt,
      record.endedAt,
      record.poweredOnMs,
      record.firstReadMs,
      record.bytesRead,
      record.bytesWritten,
      record.cacheBytes,
      record.arrayName,
      record.cloneId,
      record.vmFolder,
      record.exportId,
      record.servedPort,
      record.fromRegion,
    );
  }

  update(id: string, patch: InstantPatch): InstantRecord {
    const keys = (Object.keys(patch) as (keyof InstantPatch)[]).filter((key) => patch[key] !== undefined);
    if (keys.length > 0) {
      this.statement(`UPDATE instant_sessions SET ${keys.map((key) => `${columns[key]} = ?`).join(', ')} WHERE id = ?`).run(
        ...keys.map((key) => patch[key] ?? null),
        id,
      );
    }
    return this.get(id) as InstantRecord;
  }

  get(id: string): InstantRecord | null {
    const row = this.statement('SELECT * FROM instant_sessions WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : null;
  }

  /** Newest first. */
  list(): InstantRecord[] {
    return (this.statement('SELECT * FROM instant_sessions ORDER BY created_at DESC').all() as Row[]).map(fromRow);
  }

  /** The export id for a new session: one more than any session ever had, so a file handle of
   * an ended session never names a new one. */
  nextExportId(): number {
    const row = this.statement('SELECT COALESCE(MAX(export_id), 0) + 1 AS next FROM instant_sessions').get() as { next: number };
    return row.next;
  }

  inStates(states: readonly InstantState[]): InstantRecord[] {
    return (
      this.statement(`SELECT * FROM instant_sessions WHERE state IN (${states.map(() => '?').join(', ')}) ORDER BY created_at`).all(
        ...states,
      ) as Row[]
    ).map(fromRow);
  }
}
