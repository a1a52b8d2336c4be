// Migration 25 lists the engines that share a catalog and names, on each job, the engine that runs
// it and whether it is in the shared queue; jobs written before keep no engine and stay local.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, insert, migrate, rows } from '../helpers/catalog-at.ts';

test('migration 25 adds engines, and jobs.engine_id and jobs.shared (0 for the jobs already there)', () => {
  const db = catalogAt(24);
  addFirstRows(db);
  migrate(db, 25);
  assert.deepEqual(columnNames(db, 'engines'), ['id', 'host', 'pid', 'started_at']);
  assert.deepEqual(rows(db, 'SELECT id, engine_id, shared FROM jobs'), [{ id: 'job-1', engine_id: null, shared: 0 }]);
  assert.throws(() => db.prepare("UPDATE jobs SET shared = 2 WHERE id = 'job-1'").run(), /CHECK constraint/);
  insert(db, 'engines', { id: 'e-1', host: 'ws-1', pid: 42, started_at: '2026-12-04T00:00:00.000Z' });
  assert.throws(() => insert(db, 'engines', { id: 'e-1', host: 'ws-2', pid: 7, started_at: 'x' }), /UNIQUE constraint/);
  assert.throws(() => insert(db, 'engines', { id: 'e-2', host: 'ws-2', pid: 'seven', started_at: 'x' }), /cannot store TEXT/);
});
