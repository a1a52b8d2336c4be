// Migration 11 adds Instant Recovery sessions, one per datastore, with counters that start at 0.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, first, insert, instantSession as session, migrate, rows, schemaNames } from '../helpers/catalog-at.ts';

test('migration 11 adds Instant Recovery sessions', () => {
  const db = catalogAt(10);
  addFirstRows(db);
  migrate(db, 11);
  assert.deepEqual(rows(db, 'SELECT id, vm_id FROM restore_points'), [{ id: first.pointId, vm_id: first.vmId }]);
  assert.ok(schemaNames(db, 'index').includes('instant_sessions_by_state'));
  insert(db, 'instant_sessions', session);
  assert.deepEqual(rows(db, 'SELECT bytes_read, bytes_written, cache_bytes, ended_at, powered_on_ms FROM instant_sessions'), [
    { bytes_read: 0, bytes_written: 0, cache_bytes: 0, ended_at: null, powered_on_ms: null },
  ]);
  assert.throws(() => insert(db, 'instant_sessions', { ...session, id: 'session-2' }), /UNIQUE constraint/, 'one session per datastore');
  assert.throws(
    () => insert(db, 'instant_sessions', { ...session, id: 'session-3', datastore: 'lifeboat-3', state: 'paused' }),
    /CHECK constraint/,
  );
  db.close();
});
