// Catalogs at an older schema version, for the migration tests: open one at version K, add rows
// as an engine of that version wrote them, apply migration K+1 as Catalog.open would, and read
// the shape it left (columns, indexes, triggers).
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { migrateTo, schemaVersion, type CatalogDatabase } from '../../electron/catalog/database.ts';

export type Row = Record<string, string | number | Buffer | null>;
export type Column = { name: string; type: string; notnull: number; dflt_value: string | null };

/** An in-memory catalog with migrations 1..version applied (foreign keys on, as the engine has them). */
export function catalogAt(version: number): CatalogDatabase {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  migrateTo(db, version);
  assert.equal(schemaVersion(db), version);
  return db;
}

/** Applies exactly migration `version` to a catalog one version older. */
export function migrate(db: CatalogDatabase, version: number): void {
  assert.equal(schemaVersion(db), version - 1, `the catalog is at ${version - 1} before migration ${version}`);
  migrateTo(db, version);
  assert.equal(schemaVersion(db), version);
}

export function insert(db: CatalogDatabase, table: string, row: Row): void {
  const names = Object.keys(row);
  db.prepare(`INSERT INTO ${table} (${names.join(', ')}) VALUES (${names.map((name) => `@${name}`).join(', ')})`).run(row);
}

export function rows(db: CatalogDatabase, sql: string, ...params: (string | number)[]): unknown[] {
  return db.prepare(sql).all(...params);
}

export function columns(db: CatalogDatabase, table: string): Column[] {
  return db.prepare('SELECT name, type, "notnull", dflt_value FROM pragma_table_info(?) ORDER BY cid').all(table) as Column[];
}

export function columnNames(db: CatalogDatabase, table: string): string[] {
  return columns(db, table).map((column) => column.name);
}

/** Tables, indexes or triggers (by type) of the schema, by name. */
export function schemaNames(db: CatalogDatabase, type: 'table' | 'index' | 'trigger'): string[] {
  return (
    db.prepare("SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%' ORDER BY name").all(type) as { name: string }[]
  ).map((row) => row.name);
}

export const AT = '2025-01-01T00:00:00.000Z';

/** The ids of the rows `addFirstRows` writes. */
export const first = { repositoryId: 'repo-1', vmId: 'vm-1', backupId: 'backup-1', pointId: 'point-1', jobId: 'job-1' } as const;

/** A repository, a VM with one backed-up point and its disk, a finished job with an event, and an
 * audit entry, as an engine at schema 1 wrote them. */
export function addFirstRows(db: CatalogDatabase): void {
  insert(db, 'repositories', { id: first.repositoryId, name: 'main', path: '/backups/main', block_size: 1048576, created_at: AT });
  insert(db, 'vms', { id: first.vmId, name: 'web', source: '/vms/web', bios_uuid: '4210-aa', created_at: AT });
  insert(db, 'backups', { id: first.backupId, vm_id: first.vmId, repository_id: first.repositoryId, created_at: AT });
  insert(db, 'restore_points', {
    id: first.pointId,
    backup_id: first.backupId,
    vm_id: first.vmId,
    sequence: 1,
    kind: 'full',
    parent_id: null,
    created_at: AT,
    scanned_bytes: 100,
    changed_bytes: 100,
    stored_bytes: 60,
  });
  insert(db, 'disks', { point_id: first.pointId, disk_key: 'scsi0:0', file_name: 'web.vmdk', capacity: 1024, source_format: 'vmdk' });
  insert(db, 'jobs', {
    id: first.jobId,
    kind: 'backup',
    vm_id: first.vmId,
    vm_name: 'web',
    state: 'succeeded',
    summary: 'backup of web',
    params: '{}',
    steps: '[]',
    current_step: null,
    bytes_done: 100,
    bytes_total: 100,
    error: null,
    result: '{}',
    created_at: AT,
    started_at: AT,
    ended_at: AT,
  });
  insert(db, 'job_events', { job_id: first.jobId, at: AT, level: 'info', step: null, message: 'job succeeded' });
  insert(db, 'audit_log', { at: AT, actor: 'cli', action: 'backup', subject: 'web', details: '{}' });
}

/** A session as an engine at schema 11 wrote it, for the point `addFirstRows` writes (counters left to their defaults). */
export const instantSession: Row = {
  id: 'session-1',
  vm_id: first.vmId,
  vm_name: 'web',
  point_id: first.pointId,
  name: 'web-instant',
  host: 'esx-1',
  host_system: null,
  datastore: 'lifeboat-1',
  listen: '10.0.0.5:2049',
  export_path: '/lifeboat-1',
  allowed: '["10.0.0.9"]',
  export_folder: '/export',
  cache_folder: '/cache',
  redirected: 0,
  state: 'running',
  note: null,
  job_id: first.jobId,
  created_at: AT,
};
