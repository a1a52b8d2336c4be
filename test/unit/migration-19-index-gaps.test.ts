// Migration 19 adds the gaps of a file index (what it could not read, volumes that may be
// stale), kept per indexed point.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, first, insert, migrate, rows, schemaNames, AT } from '../helpers/catalog-at.ts';

test('migration 19 adds index gaps, kept per indexed point', () => {
  const db = catalogAt(18);
  addFirstRows(db);
  insert(db, 'indexed_points', { point_id: first.pointId, vm_id: first.vmId, files: 3, indexed_at: AT });
  migrate(db, 19);
  assert.deepEqual(rows(db, 'SELECT point_id, files FROM indexed_points'), [{ point_id: first.pointId, files: 3 }]);
  assert.deepEqual(columnNames(db, 'index_gaps'), ['point_id', 'path', 'kind', 'reason']);
  assert.ok(schemaNames(db, 'index').includes('index_gaps_by_point'));
  insert(db, 'index_gaps', { point_id: first.pointId, path: '/dev/sda2', kind: 'unreadable', reason: 'unknown file system' });
  assert.throws(
    () => insert(db, 'index_gaps', { point_id: first.pointId, path: '/dev/sda3', kind: 'missing', reason: '' }),
    /CHECK constraint/,
  );
  assert.throws(
    () => insert(db, 'index_gaps', { point_id: 'not-indexed', path: '/', kind: 'stale', reason: '' }),
    /FOREIGN KEY constraint/,
  );
  db.prepare('DELETE FROM indexed_points').run();
  assert.deepEqual(rows(db, 'SELECT * FROM index_gaps'), [], "an index's gaps go with it");
  db.close();
});
