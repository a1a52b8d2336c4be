// Migration 24 keeps console session keys (their SHA-256 only) across engine restarts, with how
// an ended one ended, so a tab that comes back with it hears why.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, insert, migrate, rows } from '../helpers/catalog-at.ts';

test('migration 24 adds console_sessions: one row per key digest, an end with its time or none', () => {
  const db = catalogAt(23);
  addFirstRows(db);
  migrate(db, 24);
  assert.deepEqual(rows(db, 'SELECT name FROM repositories'), [{ name: 'main' }]);
  assert.deepEqual(columnNames(db, 'console_sessions'), [
    'id',
    'key_sha256',
    'identity',
    'created_at',
    'last_used_at',
    'ended',
    'ended_at',
  ]);
  const session = { id: 's-1', key_sha256: 'a'.repeat(64), created_at: 1, last_used_at: 2 };
  insert(db, 'console_sessions', session);
  assert.throws(() => insert(db, 'console_sessions', { ...session, id: 's-2' }), /UNIQUE constraint/, 'a key is one session’s');
  assert.throws(() => insert(db, 'console_sessions', { ...session, id: 's-3', key_sha256: 'short' }), /CHECK constraint/);
  assert.throws(
    () => insert(db, 'console_sessions', { ...session, id: 's-4', key_sha256: 'b'.repeat(64), ended: 'revoked' }),
    /CHECK constraint/,
  );
  assert.throws(
    () => insert(db, 'console_sessions', { ...session, id: 's-5', key_sha256: 'c'.repeat(64), ended: 'lost', ended_at: 3 }),
    /CHECK constraint/,
  );
  insert(db, 'console_sessions', { ...session, id: 's-6', key_sha256: 'd'.repeat(64), ended: 'expired', ended_at: 3 });
  assert.deepEqual(rows(db, 'SELECT id, ended FROM console_sessions ORDER BY id'), [
    { id: 's-1', ended: null },
    { id: 's-6', ended: 'expired' },
  ]);
});
