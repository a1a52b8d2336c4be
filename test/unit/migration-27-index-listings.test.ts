// Migration 27 lets a file index answer listings: each entry keeps its target and the
// milliseconds of its mtime, each index says which form it keeps its entries in and keeps the
// listings above the volumes. An index made before keeps its rows, reads as the older form (0,
// no listings above the volumes: listings of its point read the point), and is still searchable.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrateTo, type CatalogDatabase } from '../../electron/catalog/database.ts';
import { FileIndex } from '../../electron/catalog/file-index.ts';
import { PostgresCatalogDatabase } from '../../electron/catalog/postgres/postgres-database.ts';
import { freshPostgresDatabase, postgresForThisFile } from '../helpers/catalog-backends.ts';
import { addFirstRows, AT, catalogAt, columns, first, migrate, rows } from '../helpers/catalog-at.ts';

/** A path and its entry in the point as an engine before migration 27 indexed them. */
function addOlderEntry(db: CatalogDatabase): void {
  db.prepare('INSERT INTO index_folders (id, vm_id, path) VALUES (?, ?, ?)').run(3, first.vmId, '/disk0/part1/etc');
  db.prepare('INSERT INTO file_paths (id, vm_id, path, name, folder_id) VALUES (?, ?, ?, ?, ?)').run(
    7,
    first.vmId,
    '/disk0/part1/etc/hosts',
    'hosts',
    3,
  );
  db.prepare('INSERT INTO file_names (rowid, name) VALUES (?, ?)').run(7, 'hosts');
  db.prepare('INSERT INTO point_files (point_id, path_id, type, size, mtime, mode) VALUES (?, ?, ?, ?, ?, ?)').run(
    first.pointId,
    7,
    'file',
    120,
    1_700_000_000,
    0o644,
  );
}

/** What the older point's index still says, and that it answers no listings. */
function olderIndexAfter(db: CatalogDatabase): void {
  const index = new FileIndex(db);
  assert.deepEqual(index.folder(first.vmId, first.pointId, '/disk0/part1/etc'), [
    { name: 'hosts', type: 'file', size: 120, mtime: 1_700_000_000, mtimeMs: null, mode: 0o644, target: null },
  ]);
  assert.equal(index.listings(first.pointId), null, 'an index made before keeps no listing form');
  assert.deepEqual(
    index.search('host', first.vmId).map((hit) => hit.path),
    ['/disk0/part1/etc/hosts'],
  );
}

test('migration 27 keeps targets, mtime milliseconds and the listing form; older indexes answer no listings (sqlite)', () => {
  const db = catalogAt(26);
  addFirstRows(db);
  db.prepare('INSERT INTO indexed_points (point_id, vm_id, files, indexed_at) VALUES (?, ?, ?, ?)').run(first.pointId, first.vmId, 1, AT);
  addOlderEntry(db);
  migrate(db, 27);
  const added = (table: string, names: string[]) => columns(db, table).filter((column) => names.includes(column.name));
  assert.deepEqual(added('point_files', ['target', 'mtime_ms']), [
    { name: 'target', type: 'TEXT', notnull: 0, dflt_value: null },
    { name: 'mtime_ms', type: 'INTEGER', notnull: 0, dflt_value: null },
  ]);
  assert.deepEqual(added('indexed_points', ['listing', 'above_volumes']), [
    { name: 'listing', type: 'INTEGER', notnull: 1, dflt_value: '0' },
    { name: 'above_volumes', type: 'TEXT', notnull: 0, dflt_value: null },
  ]);
  assert.deepEqual(rows(db, 'SELECT listing, above_volumes FROM indexed_points'), [{ listing: 0, above_volumes: null }]);
  olderIndexAfter(db);
  assert.throws(
    () => db.prepare("UPDATE point_files SET mtime_ms = 'soon'").run(),
    /cannot store TEXT value in INTEGER column/,
    'STRICT: a wrong type is refused',
  );
  db.close();
});

const { skip } = postgresForThisFile();
test('migration 27 keeps targets, mtime milliseconds and the listing form (postgresql)', { skip }, async () => {
  const db = new PostgresCatalogDatabase(await freshPostgresDatabase());
  try {
    migrateTo(db, 26);
    addOlderEntry(db);
    migrateTo(db, 27);
    assert.deepEqual(rows(db, 'SELECT target, mtime_ms, mtime FROM point_files'), [{ target: null, mtime_ms: null, mtime: 1_700_000_000 }]);
    const defaults = db
      .prepare(
        "SELECT column_name, column_default FROM information_schema.columns WHERE table_name = 'indexed_points' AND column_name IN ('listing', 'above_volumes') ORDER BY column_name",
      )
      .all();
    assert.deepEqual(defaults, [
      { column_name: 'above_volumes', column_default: null },
      { column_name: 'listing', column_default: '0' },
    ]);
  } finally {
    db.close();
  }
});
