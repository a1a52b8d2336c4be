// Migration 20 gives Instant Recovery sessions what a restarted engine needs to serve them again:
// a stable export id (unique, file handles carry it), the port the server bound, the copy's region.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, insert, instantSession, migrate, rows, schemaNames } from '../helpers/catalog-at.ts';

test('migration 20 adds the export id, bound port and source region, empty for the sessions already there', () => {
  const db = catalogAt(19);
  addFirstRows(db);
  insert(db, 'instant_sessions', instantSession);
  migrate(db, 20);
  assert.deepEqual(columnNames(db, 'instant_sessions').slice(-3), ['export_id', 'served_port', 'from_region']);
  assert.ok(schemaNames(db, 'index').includes('instant_sessions_by_export_id'));
  assert.deepEqual(rows(db, 'SELECT id, state, export_id, served_port, from_region FROM instant_sessions'), [
    { id: 'session-1', state: 'running', export_id: null, served_port: null, from_region: null },
  ]);
  const second = { ...instantSession, id: 'session-2', datastore: 'lifeboat-2' };
  insert(db, 'instant_sessions', { ...second, export_id: 7, served_port: 40123, from_region: 'eu' });
  assert.throws(
    () => insert(db, 'instant_sessions', { ...second, id: 'session-3', datastore: 'lifeboat-3', export_id: 7 }),
    /UNIQUE constraint/,
    'an export id names one session, ended or not',
  );
  assert.throws(
    () => insert(db, 'instant_sessions', { ...second, id: 'session-4', datastore: 'lifeboat-4', served_port: 70000 }),
    /CHECK constraint/,
  );
  assert.throws(
    () => insert(db, 'instant_sessions', { ...second, id: 'session-5', datastore: 'lifeboat-5', export_id: 0 }),
    /CHECK constraint/,
  );
  db.close();
});
