// Migration 6 adds job resources: what a job creates, recorded before, for the janitor.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, first, insert, migrate, rows, schemaNames, AT } from '../helpers/catalog-at.ts';

test('migration 6 adds job resources, of known kinds, kept per job', () => {
  const db = catalogAt(5);
  addFirstRows(db);
  migrate(db, 6);
  assert.deepEqual(rows(db, 'SELECT job_id, message FROM job_events'), [{ job_id: first.jobId, message: 'job succeeded' }]);
  assert.deepEqual(columnNames(db, 'job_resources'), ['id', 'job_id', 'kind', 'ref', 'created_at', 'released_at']);
  assert.ok(schemaNames(db, 'index').includes('job_resources_open'));
  for (const kind of ['staging-folder', 'target-folder', 'partial-point', 'vsphere-vm', 'vsphere-hot-added-disk'])
    insert(db, 'job_resources', { job_id: first.jobId, kind, ref: '{}', created_at: AT });
  assert.throws(
    () => insert(db, 'job_resources', { job_id: first.jobId, kind: 'array-clone', ref: '{}', created_at: AT }),
    /CHECK constraint/,
    'array clones come with migration 12',
  );
  assert.deepEqual(rows(db, 'SELECT count(*) AS open FROM job_resources WHERE released_at IS NULL'), [{ open: 5 }]);
  db.prepare('DELETE FROM jobs').run();
  assert.deepEqual(rows(db, 'SELECT * FROM job_resources'), [], "a job's resources go with it");
  db.close();
});
