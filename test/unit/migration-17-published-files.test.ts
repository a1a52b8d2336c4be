// Migration 17 rebuilds job_resources (a CHECK cannot be altered) to accept the files a restore
// moved into its target: every resource recorded before, of every kind, survives as it was.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, first, insert, migrate, rows, schemaNames, AT } from '../helpers/catalog-at.ts';

const olderKinds = ['staging-folder', 'target-folder', 'partial-point', 'vsphere-vm', 'vsphere-hot-added-disk', 'array-clone'];

test('migration 17 accepts published files and keeps the job resources it rebuilds', () => {
  const db = catalogAt(16);
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
  migrate(db, 17);
  assert.deepEqual(
    rows(db, 'SELECT id, kind, ref, released_at FROM job_resources ORDER BY id'),
    olderKinds.map((kind, index) => ({ id: 10 + index, kind, ref: `{"n":${index}}`, released_at: index % 2 === 0 ? AT : null })),
  );
  assert.deepEqual(columnNames(db, 'job_resources'), ['id', 'job_id', 'kind', 'ref', 'created_at', 'released_at']);
  assert.ok(schemaNames(db, 'index').includes('job_resources_open'));
  assert.ok(!schemaNames(db, 'table').includes('job_resources_new'));
  insert(db, 'job_resources', { job_id: first.jobId, kind: 'published-file', ref: '{"path":"/target/web.vmx"}', created_at: AT });
  assert.throws(
    () => insert(db, 'job_resources', { job_id: first.jobId, kind: 'lost-file', ref: '{}', created_at: AT }),
    /CHECK constraint/,
  );
  db.prepare('DELETE FROM jobs').run();
  assert.deepEqual(rows(db, 'SELECT * FROM job_resources'), [], "a job's resources still go with it");
  db.close();
});
