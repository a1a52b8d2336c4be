// Migration 26 names each indexed path's folder (file_paths.parent) and indexes it, so a folder of
// the file index is one look-up. Paths already indexed get theirs from their path and name, on
// both backends: names with '/' (a damaged file system), letters and emoji beyond ASCII.
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
];

function addIndexedPaths(db: CatalogDatabase): void {
  const add = db.prepare('INSERT INTO file_paths (id, vm_id, path, name) VALUES (?, ?, ?, ?)');
  INDEXED.forEach((file, i) => add.run(i + 1, first.vmId, file.path, file.name));
}

function parents(db: CatalogDatabase): unknown[] {
  return db.prepare('SELECT path, name, parent FROM file_paths ORDER BY id').all();
}

test('migration 26 gives every indexed path its folder, and indexes it (sqlite)', () => {
  const db = catalogAt(25);
  addFirstRows(db);
  addIndexedPaths(db);
  migrate(db, 26);
  assert.deepEqual(parents(db), INDEXED);
  assert.deepEqual(columnNames(db, 'file_paths'), ['id', 'vm_id', 'path', 'name', 'parent']);
  assert.ok(schemaNames(db, 'index').includes('file_paths_by_parent'));
  db.prepare('INSERT INTO file_paths (vm_id, path, name) VALUES (?, ?, ?)').run(first.vmId, '/disk0/part1/new', 'new');
  assert.deepEqual(
    rows(db, "SELECT parent FROM file_paths WHERE name = 'new'"),
    [{ parent: '' }],
    'a row that names none: empty, never NULL',
  );
  db.close();
});

const { skip } = postgresForThisFile();
test('migration 26 gives every indexed path its folder, and indexes it (postgresql)', { skip }, async () => {
  const db = new PostgresCatalogDatabase(await freshPostgresDatabase());
  try {
    migrateTo(db, 25);
    addIndexedPaths(db);
    migrateTo(db, 26);
    assert.deepEqual(parents(db), INDEXED);
    const indexes = db.prepare("SELECT indexname FROM pg_indexes WHERE tablename = 'file_paths'").all() as { indexname: string }[];
    assert.ok(indexes.some((index) => index.indexname === 'file_paths_by_parent'));
  } finally {
    db.close();
  }
});
