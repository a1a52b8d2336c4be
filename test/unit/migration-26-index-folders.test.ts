// Migration 26 keeps the file index's folders (index_folders, each once per VM) and names each
// indexed path's folder (file_paths.folder_id), so a folder of the index is a look-up. Paths
// already indexed get theirs from their path and name, on both backends: names with '/' (a
// damaged file system), letters and emoji beyond ASCII, the same folder in two VMs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrateTo, type CatalogDatabase } from '../../electron/catalog/database.ts';
import { PostgresCatalogDatabase } from '../../electron/catalog/postgres/postgres-database.ts';
import { freshPostgresDatabase, postgresForThisFile } from '../helpers/catalog-backends.ts';
import { addFirstRows, catalogAt, columnNames, first, migrate, rows, schemaNames } from '../helpers/catalog-at.ts';

const INDEXED = [
  { path: '/disk0/part1/etc', name: 'etc', parent: '/disk0/part1' },
  { path: '/disk0/part1/etc/hosts', name: 'hosts', parent: '/disk0/part1/etc' },
  { path: '/disk0/part1/Änderung/😀 über.txt', name: '😀 über.txt', parent: '/disk0/part1/Änderung' },
  { path: '/disk0/part1/odd/a/b', name: 'a/b', parent: '/disk0/part1/odd' },
  { path: '/lvm/vg0/root/var', name: 'var', parent: '/lvm/vg0/root' },
  { path: '/disk0/part1/etc', name: 'etc', parent: '/disk0/part1', vm: 'vm-2' },
];

function addIndexedPaths(db: CatalogDatabase): void {
  const add = db.prepare('INSERT INTO file_paths (id, vm_id, path, name) VALUES (?, ?, ?, ?)');
  INDEXED.forEach((file, i) => add.run(i + 1, file.vm ?? first.vmId, file.path, file.name));
}

/** Each indexed path with its VM and the folder its folder_id names. */
function parents(db: CatalogDatabase): unknown[] {
  return db
    .prepare(
      'SELECT p.vm_id, p.path, d.vm_id AS folder_vm, d.path AS folder FROM file_paths p LEFT JOIN index_folders d ON d.id = p.folder_id ORDER BY p.id',
    )
    .all();
}

const EXPECTED = INDEXED.map((file) => ({
  vm_id: file.vm ?? first.vmId,
  path: file.path,
  folder_vm: file.vm ?? first.vmId,
  folder: file.parent,
}));

test('migration 26 keeps each folder once per VM and gives every indexed path its own (sqlite)', () => {
  const db = catalogAt(25);
  addFirstRows(db);
  addIndexedPaths(db);
  migrate(db, 26);
  assert.deepEqual(parents(db), EXPECTED);
  assert.deepEqual(columnNames(db, 'file_paths'), ['id', 'vm_id', 'path', 'name', 'folder_id']);
  assert.deepEqual(columnNames(db, 'index_folders'), ['id', 'vm_id', 'path']);
  assert.ok(schemaNames(db, 'index').includes('file_paths_by_folder'));
  assert.deepEqual(rows(db, 'SELECT COUNT(*) AS folders FROM index_folders'), [{ folders: 6 }], 'each folder once per VM');
  assert.throws(
    () => db.prepare('INSERT INTO index_folders (vm_id, path) VALUES (?, ?)').run(first.vmId, '/disk0/part1'),
    /UNIQUE constraint/,
  );
  db.close();
});

const { skip } = postgresForThisFile();
test('migration 26 keeps each folder once per VM and gives every indexed path its own (postgresql)', { skip }, async () => {
  const db = new PostgresCatalogDatabase(await freshPostgresDatabase());
  try {
    migrateTo(db, 25);
    addIndexedPaths(db);
    migrateTo(db, 26);
    assert.deepEqual(parents(db), EXPECTED);
    const indexes = db.prepare("SELECT indexname FROM pg_indexes WHERE tablename = 'file_paths'").all() as { indexname: string }[];
    assert.ok(indexes.some((index) => index.indexname === 'file_paths_by_folder'));
  } finally {
    db.close();
  }
});
