// Migration 13 lets an Instant Recovery session run from an array clone; sessions started from
// a backup before it have none.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, insert, instantSession, migrate, rows } from '../helpers/catalog-at.ts';

test('migration 13 adds the clone a session runs from, empty for the sessions already there', () => {
  const db = catalogAt(12);
  addFirstRows(db);
  insert(db, 'instant_sessions', { ...instantSession, bytes_read: 4096 });
  migrate(db, 13);
  assert.deepEqual(columnNames(db, 'instant_sessions').slice(-3), ['array_name', 'clone_id', 'vm_folder']);
  assert.deepEqual(rows(db, 'SELECT id, state, bytes_read, array_name, clone_id, vm_folder FROM instant_sessions'), [
    { id: 'session-1', state: 'running', bytes_read: 4096, array_name: null, clone_id: null, vm_folder: null },
  ]);
  db.close();
});
