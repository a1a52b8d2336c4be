// Migration 15 places repositories in a region and zone with a role (those already there become
// primaries in zone-1 of the primary region), adds the copies of each point, and the key of an
// encrypted point (points made before were not encrypted).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columns, first, insert, migrate, rows, AT } from '../helpers/catalog-at.ts';

test('migration 15 makes existing repositories primaries and adds point copies', () => {
  const db = catalogAt(14);
  addFirstRows(db);
  migrate(db, 15);
  assert.deepEqual(rows(db, 'SELECT id, name, region, zone, role FROM repositories'), [
    { id: first.repositoryId, name: 'main', region: 'primary', zone: 'zone-1', role: 'primary' },
  ]);
  assert.deepEqual(rows(db, 'SELECT id, stored_bytes, key_id FROM restore_points'), [
    { id: first.pointId, stored_bytes: 60, key_id: null },
  ]);
  assert.deepEqual(
    columns(db, 'repositories')
      .slice(-3)
      .map(({ name, notnull, dflt_value }) => [name, notnull, dflt_value]),
    [
      ['region', 1, "'primary'"],
      ['zone', 1, "'zone-1'"],
      ['role', 1, "'primary'"],
    ],
  );
  const copy = { id: 'repo-2', name: 'copy', path: '/backups/copy', block_size: 1048576, created_at: AT, region: 'west', zone: 'zone-2' };
  assert.throws(() => insert(db, 'repositories', { ...copy, role: 'mirror' }), /CHECK constraint/);
  insert(db, 'repositories', { ...copy, role: 'copy' });
  insert(db, 'point_copies', { point_id: first.pointId, repository_id: 'repo-2', data_sha256: 'ab'.repeat(32), bytes: 60, copied_at: AT });
  db.prepare("DELETE FROM repositories WHERE id = 'repo-2'").run();
  assert.deepEqual(rows(db, 'SELECT * FROM point_copies'), [], "a repository's copies go with it");
  db.close();
});
