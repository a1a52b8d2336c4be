// Migration 4 adds per-disk restore checkpoints, kept per job.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, first, insert, migrate, rows, AT } from '../helpers/catalog-at.ts';

test('migration 4 adds restore checkpoints, one per job and disk', () => {
  const db = catalogAt(3);
  addFirstRows(db);
  migrate(db, 4);
  assert.deepEqual(rows(db, 'SELECT id, state FROM jobs'), [{ id: first.jobId, state: 'succeeded' }]);
  assert.deepEqual(columnNames(db, 'job_checkpoints'), ['job_id', 'disk_key', 'slots', 'watermarks', 'complete', 'updated_at']);
  const checkpoint = { job_id: first.jobId, disk_key: 'scsi0:0', slots: 4, watermarks: '[0,0,0,0]', complete: 0, updated_at: AT };
  insert(db, 'job_checkpoints', checkpoint);
  assert.throws(() => insert(db, 'job_checkpoints', checkpoint), /UNIQUE constraint|PRIMARY KEY/);
  assert.throws(() => insert(db, 'job_checkpoints', { ...checkpoint, disk_key: 'scsi0:1', slots: 0 }), /CHECK constraint/);
  db.prepare('DELETE FROM jobs').run();
  assert.deepEqual(rows(db, 'SELECT * FROM job_checkpoints'), [], "a job's checkpoints go with it");
  db.close();
});
