// Migration 12 adds storage arrays and their snapshots, and rebuilds job_resources (a CHECK
// cannot be altered) to accept array clones: the resources already recorded keep their ids,
// kinds and release marks, and the janitor's index comes back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, first, insert, migrate, rows, schemaNames, AT } from '../helpers/catalog-at.ts';

test('migration 12 adds storage arrays and keeps the job resources it rebuilds', () => {
  const db = catalogAt(11);
  addFirstRows(db);
  insert(db, 'job_resources', {
    id: 3,
    job_id: first.jobId,
    kind: 'staging-folder',
    ref: '{"path":"/staging/1"}',
    created_at: AT,
    released_at: AT,
  });
  insert(db, 'job_resources', {
    id: 8,
    job_id: first.jobId,
    kind: 'vsphere-vm',
    ref: '{"moref":"vm-42"}',
    created_at: AT,
    released_at: null,
  });
  migrate(db, 12);
  assert.deepEqual(rows(db, 'SELECT id, job_id, kind, ref, released_at FROM job_resources ORDER BY id'), [
    { id: 3, job_id: first.jobId, kind: 'staging-folder', ref: '{"path":"/staging/1"}', released_at: AT },
    { id: 8, job_id: first.jobId, kind: 'vsphere-vm', ref: '{"moref":"vm-42"}', released_at: null },
  ]);
  assert.deepEqual(columnNames(db, 'job_resources'), ['id', 'job_id', 'kind', 'ref', 'created_at', 'released_at']);
  assert.ok(schemaNames(db, 'index').includes('job_resources_open'));
  assert.ok(!schemaNames(db, 'table').includes('job_resources_new'));
  insert(db, 'job_resources', { job_id: first.jobId, kind: 'array-clone', ref: '{"clone":"c-1"}', created_at: AT });
  assert.throws(
    () => insert(db, 'job_resources', { job_id: first.jobId, kind: 'published-file', ref: '{}', created_at: AT }),
    /CHECK constraint/,
    'published files come with migration 17',
  );
  db.prepare('DELETE FROM jobs').run();
  assert.deepEqual(rows(db, 'SELECT * FROM job_resources'), [], "a job's resources still go with it");

  insert(db, 'arrays', { name: 'array-1', path: '/arrays/1', created_at: AT });
  insert(db, 'storage_snapshots', { id: 'snap-1', array_name: 'array-1', volume: 'vol-1', created_at: AT, vms: '[]' });
  db.prepare('DELETE FROM arrays').run();
  assert.deepEqual(rows(db, 'SELECT * FROM storage_snapshots'), [], "an array's snapshots go with it");
  db.close();
});
