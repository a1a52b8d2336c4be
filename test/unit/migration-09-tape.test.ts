// Migration 9 adds tape: media sets own their volumes and point copies; operator prompts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, first, insert, migrate, rows, schemaNames, AT } from '../helpers/catalog-at.ts';

test('migration 9 adds tape media sets, volumes, copies and prompts', () => {
  const db = catalogAt(8);
  addFirstRows(db);
  migrate(db, 9);
  assert.deepEqual(rows(db, 'SELECT id FROM restore_points'), [{ id: first.pointId }]);
  for (const table of ['tape_media_sets', 'tape_volumes', 'tape_copies', 'prompts'])
    assert.ok(schemaNames(db, 'table').includes(table), table);
  assert.ok(schemaNames(db, 'index').includes('tape_copies_by_vm'));

  insert(db, 'tape_media_sets', { id: 'set-1', pool: 'weekly', block_size: 262144, created_at: AT, state: 'writing' });
  assert.throws(
    () => insert(db, 'tape_media_sets', { id: 'set-2', pool: 'weekly', block_size: 262144, created_at: AT, state: 'lost' }),
    /CHECK constraint/,
  );
  insert(db, 'tape_volumes', { barcode: 'LB0001L8', media_set_id: 'set-1', sequence: 1, bytes: 100, written_at: AT });
  const copy = {
    media_set_id: 'set-1',
    point_id: first.pointId,
    vm_id: first.vmId,
    vm_name: 'web',
    point_sequence: 1,
    point_created_at: AT,
    manifest: '{}',
    unique_blocks: 1,
    stored_bytes: 60,
    maps: Buffer.from([1]),
    locations: Buffer.from([2]),
  };
  insert(db, 'tape_copies', copy);
  assert.throws(() => insert(db, 'tape_copies', copy), /UNIQUE constraint/, 'a point once per media set');
  insert(db, 'prompts', {
    id: 'prompt-1',
    job_ids: '[]',
    kind: 'insert-tape',
    barcode: 'LB0001L8',
    message: 'insert LB0001L8',
    place: 'library',
    state: 'open',
    created_at: AT,
  });
  assert.throws(
    () =>
      insert(db, 'prompts', { id: 'prompt-2', job_ids: '[]', kind: 'clean-drive', message: '', place: '', state: 'open', created_at: AT }),
    /CHECK constraint/,
  );

  db.prepare('DELETE FROM tape_media_sets').run();
  assert.deepEqual(
    rows(db, 'SELECT (SELECT count(*) FROM tape_volumes) + (SELECT count(*) FROM tape_copies) AS left'),
    [{ left: 0 }],
    "a media set's volumes and copies go with it",
  );
  db.close();
});
