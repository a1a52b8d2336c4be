// Migration 1 on an empty file: the first schema holds what an engine of that time wrote, and
// its constraints (STRICT types, CHECKs, cascades) refuse what it should.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, first, insert, migrate, rows, schemaNames, AT } from '../helpers/catalog-at.ts';

test('migration 1 creates the first catalog, whose constraints hold', () => {
  const db = catalogAt(0);
  migrate(db, 1);
  assert.deepEqual(schemaNames(db, 'table'), [
    'audit_log',
    'backups',
    'disks',
    'job_events',
    'jobs',
    'repositories',
    'restore_points',
    'vms',
  ]);
  assert.deepEqual(schemaNames(db, 'index'), ['job_events_by_job', 'jobs_by_state', 'vms_by_name']);
  addFirstRows(db);
  assert.deepEqual(rows(db, 'SELECT bytes_done, error FROM jobs'), [{ bytes_done: 100, error: null }]);

  const point = {
    id: 'point-2',
    backup_id: first.backupId,
    vm_id: first.vmId,
    sequence: 2,
    parent_id: first.pointId,
    created_at: AT,
    scanned_bytes: 1,
    changed_bytes: 1,
    stored_bytes: 1,
  };
  assert.throws(() => insert(db, 'restore_points', { ...point, kind: 'partial' }), /CHECK constraint/);
  assert.throws(
    () => insert(db, 'restore_points', { ...point, kind: 'incremental', sequence: 'two' }),
    /cannot store TEXT value in INTEGER column/,
  );
  assert.throws(() => insert(db, 'restore_points', { ...point, kind: 'incremental', sequence: 1 }), /UNIQUE constraint/);
  assert.throws(
    () => insert(db, 'backups', { id: 'backup-2', vm_id: 'no-such-vm', repository_id: first.repositoryId, created_at: AT }),
    /FOREIGN KEY constraint/,
  );
  insert(db, 'jobs', {
    id: 'job-2',
    kind: 'verify',
    vm_id: null,
    vm_name: 'web',
    state: 'queued',
    summary: 'verify',
    params: '{}',
    steps: '[]',
    created_at: AT,
  });
  assert.deepEqual(
    rows(db, "SELECT bytes_done, bytes_total FROM jobs WHERE id = 'job-2'"),
    [{ bytes_done: 0, bytes_total: 0 }],
    'progress starts at 0',
  );

  db.prepare('DELETE FROM restore_points WHERE id = ?').run(first.pointId);
  assert.deepEqual(rows(db, 'SELECT * FROM disks'), [], "a point's disks go with it");
  db.prepare('DELETE FROM jobs WHERE id = ?').run(first.jobId);
  assert.deepEqual(rows(db, 'SELECT * FROM job_events'), [], "a job's events go with it");
  db.close();
});
