// Migration 22 rebuilds job_resources (a CHECK cannot be altered) to accept the snapshot a backup
// from vSphere takes: every resource recorded before, of every kind, survives as it was.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, first, insert, migrate, rows, schemaNames, AT } from '../helpers/catalog-at.ts';

const olderKinds = [
  'staging-folder',
  'target-folder',
  'published-file',
  'partial-point',
  'vsphere-vm',
  'vsphere-hot-added-disk',
  'array-clone',
];

test('migration 22 accepts backup snapshots and keeps the job resources it rebuilds', () => {
  const db = catalogAt(21);
  addFirstRows(db);
  olderKinds.forEach((kind, index) =>
    insert(db, 'job_resources', {
      id: 10 + index,
      job_id: first.jobId,
      kind,
      ref: `{"n":${index}}`,
      created_at: AT,
      released_at: index % 2 === 0 ? AT : null,
    }),
  );
  migrate(db, 22);
  assert.deepEqual(
    rows(db, 'SELECT id, kind, ref, released_at FROM job_resources ORDER BY id'),
    olderKinds.map((kind, index) => ({ id: 10 + index, kind, ref: `{"n":${index}}`, released_at: index % 2 === 0 ? AT : null })),
  );
  assert.deepEqual(columnNames(db, 'job_resources'), ['id', 'job_id', 'kind', 'ref', 'created_at', 'released_at']);
  assert.ok(schemaNames(db, 'index').includes('job_resources_open'));
  assert.ok(!schemaNames(db, 'table').includes('job_resources_new'));
  insert(db, 'job_resources', {
    job_id: first.jobId,
    kind: 'vsphere-snapshot',
    ref: '{"host":"vc","vm":"web","snapshot":"lifeboat-backup-1"}',
    created_at: AT,
  });
  assert.throws(
    () => insert(db, 'job_resources', { job_id: first.jobId, kind: 'lost-snapshot', ref: '{}', created_at: AT }),
    /CHECK constraint/,
  );
  db.prepare('DELETE FROM jobs').run();
  assert.deepEqual(rows(db, 'SELECT * FROM job_resources'), [], "a job's resources still go with it");
  db.close();
});
