// Migration 7 adds settings and jobs held for an approval; jobs already there waited for nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, first, insert, migrate, rows } from '../helpers/catalog-at.ts';

test('migration 7 adds settings, and jobs written before it wait for nobody', () => {
  const db = catalogAt(6);
  addFirstRows(db);
  migrate(db, 7);
  assert.deepEqual(rows(db, 'SELECT id, summary, waiting_for, requested_by FROM jobs'), [
    { id: first.jobId, summary: 'backup of web', waiting_for: null, requested_by: null },
  ]);
  assert.deepEqual(columnNames(db, 'jobs').slice(-2), ['waiting_for', 'requested_by']);
  assert.deepEqual(columnNames(db, 'settings'), ['key', 'value']);
  insert(db, 'settings', { key: 'approvals', value: '{"restore":true}' });
  assert.throws(() => insert(db, 'settings', { key: 'approvals', value: '{}' }), /UNIQUE constraint|PRIMARY KEY/);
  db.close();
});
