// Migration 21 adds the real tape libraries a home is configured with: no column for a CHAP
// secret (it lives in the secret store), and at most one library in use.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, insert, migrate, rows, schemaNames, AT } from '../helpers/catalog-at.ts';

test('migration 21 adds configured tape libraries, with no secret column and one library in use at most', () => {
  const db = catalogAt(20);
  addFirstRows(db);
  migrate(db, 21);
  assert.deepEqual(rows(db, 'SELECT name FROM repositories'), [{ name: 'main' }]);
  assert.deepEqual(columnNames(db, 'tape_libraries'), [
    'id',
    'name',
    'kind',
    'url',
    'lun',
    'block_size',
    'chap_user',
    'in_use',
    'created_at',
  ]);
  assert.ok(schemaNames(db, 'index').includes('tape_libraries_one_in_use'));
  const library = { id: 'lib-1', name: 'vtl', kind: 'iscsi', url: 'iscsi://10.0.0.5/iqn.x', created_at: AT };
  insert(db, 'tape_libraries', { ...library, in_use: 1 });
  assert.deepEqual(rows(db, 'SELECT lun, block_size, chap_user, in_use FROM tape_libraries'), [
    { lun: null, block_size: null, chap_user: null, in_use: 1 },
  ]);
  assert.throws(() => insert(db, 'tape_libraries', { ...library, id: 'lib-2' }), /UNIQUE constraint/, 'names are unique');
  assert.throws(() => insert(db, 'tape_libraries', { ...library, id: 'lib-3', name: 'b', in_use: 1 }), /UNIQUE constraint/);
  assert.throws(() => insert(db, 'tape_libraries', { ...library, id: 'lib-4', name: 'c', kind: 'fc' }), /CHECK constraint/);
  assert.throws(() => insert(db, 'tape_libraries', { ...library, id: 'lib-5', name: 'd', lun: 20000 }), /CHECK constraint/);
  insert(db, 'tape_libraries', { ...library, id: 'lib-6', name: 'e', kind: 'sg', url: 'sg:/dev/sg3,/dev/sg4' });
  db.close();
});
