// Migration 10 adds job throughput samples, one per job and instant.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, first, insert, migrate, rows } from '../helpers/catalog-at.ts';

test('migration 10 adds job samples, kept per job', () => {
  const db = catalogAt(9);
  addFirstRows(db);
  migrate(db, 10);
  assert.deepEqual(rows(db, 'SELECT bytes_done, bytes_total FROM jobs'), [{ bytes_done: 100, bytes_total: 100 }]);
  assert.deepEqual(columnNames(db, 'job_samples'), ['job_id', 'at_ms', 'bytes_done']);
  insert(db, 'job_samples', { job_id: first.jobId, at_ms: 1000, bytes_done: 50 });
  assert.throws(() => insert(db, 'job_samples', { job_id: first.jobId, at_ms: 1000, bytes_done: 60 }), /UNIQUE constraint|PRIMARY KEY/);
  assert.throws(() => insert(db, 'job_samples', { job_id: 'no-such-job', at_ms: 1000, bytes_done: 60 }), /FOREIGN KEY constraint/);
  db.prepare('DELETE FROM jobs').run();
  assert.deepEqual(rows(db, 'SELECT * FROM job_samples'), [], "a job's samples go with it");
  db.close();
});
