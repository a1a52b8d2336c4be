// Migration 8 adds the file index: a point's files are stored once per path and found by name
// through the FTS5 trigram table, which reads its text from file_paths.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, first, insert, migrate, rows, schemaNames, AT } from '../helpers/catalog-at.ts';

test('migration 8 adds the file index, searchable by part of a name', () => {
  const db = catalogAt(7);
  addFirstRows(db);
  migrate(db, 8);
  assert.deepEqual(rows(db, 'SELECT id, sequence FROM restore_points'), [{ id: first.pointId, sequence: 1 }]);
  for (const table of ['indexed_points', 'file_paths', 'point_files', 'file_names'])
    assert.ok(schemaNames(db, 'table').includes(table), table);
  assert.ok(schemaNames(db, 'index').includes('point_files_by_path'));

  insert(db, 'indexed_points', { point_id: first.pointId, vm_id: first.vmId, files: 1, indexed_at: AT });
  insert(db, 'file_paths', { id: 7, vm_id: first.vmId, path: '/etc/nginx/nginx.conf', name: 'nginx.conf' });
  insert(db, 'file_names', { rowid: 7, name: 'nginx.conf' });
  insert(db, 'point_files', { point_id: first.pointId, path_id: 7, type: 'file', size: 1200, mtime: null, mode: null });
  assert.throws(
    () => insert(db, 'file_paths', { vm_id: first.vmId, path: '/etc/nginx/nginx.conf', name: 'nginx.conf' }),
    /UNIQUE constraint/,
    'a path once per VM',
  );
  assert.deepEqual(rows(db, 'SELECT p.path FROM file_names f JOIN file_paths p ON p.id = f.rowid WHERE file_names MATCH ?', 'ginx'), [
    { path: '/etc/nginx/nginx.conf' },
  ]);

  db.prepare('DELETE FROM restore_points').run();
  assert.deepEqual(rows(db, 'SELECT * FROM indexed_points'), [], "a point's index record goes with it");
  db.close();
});
