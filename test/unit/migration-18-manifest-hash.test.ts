// Migration 18 records the SHA-256 of each point's manifest; points made before it have none.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columns, first, migrate, rows } from '../helpers/catalog-at.ts';

test('migration 18 adds the manifest hash, empty for the points already there', () => {
  const db = catalogAt(17);
  addFirstRows(db);
  db.prepare('UPDATE restore_points SET key_id = ? WHERE id = ?').run('key-1', first.pointId);
  migrate(db, 18);
  assert.deepEqual(rows(db, 'SELECT id, key_id, manifest_sha256 FROM restore_points'), [
    { id: first.pointId, key_id: 'key-1', manifest_sha256: null },
  ]);
  assert.deepEqual(columns(db, 'restore_points').at(-1), { name: 'manifest_sha256', type: 'TEXT', notnull: 0, dflt_value: null });
  db.close();
});
