// Migration 16 adds sign-in: accounts named case-insensitively, sessions kept by token hash,
// and at most one directory configuration.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, insert, migrate, rows, AT } from '../helpers/catalog-at.ts';

test('migration 16 adds accounts, sessions and the directory', () => {
  const db = catalogAt(15);
  addFirstRows(db);
  insert(db, 'settings', { key: 'approvals', value: '{}' });
  migrate(db, 16);
  assert.deepEqual(rows(db, 'SELECT key, value FROM settings'), [{ key: 'approvals', value: '{}' }]);
  assert.deepEqual(columnNames(db, 'auth_sessions'), ['token_sha256', 'account', 'role', 'via', 'created_at', 'expires_at']);
  const account = { name: 'Alice', role: 'operator', password_hash: 'scrypt$...', created_at: AT, password_changed_at: AT };
  insert(db, 'accounts', account);
  assert.throws(() => insert(db, 'accounts', { ...account, name: 'alice' }), /UNIQUE constraint/, 'names are case-insensitive');
  assert.throws(() => insert(db, 'accounts', { ...account, name: 'bob', role: 'root' }), /CHECK constraint/);
  const session = { token_sha256: 'cd'.repeat(32), account: 'Alice', role: 'operator', via: 'local', created_at: AT, expires_at: AT };
  insert(db, 'auth_sessions', session);
  assert.throws(() => insert(db, 'auth_sessions', { ...session, token_sha256: 'ef'.repeat(32), via: 'guess' }), /CHECK constraint/);
  insert(db, 'directory_config', { id: 1, config: '{}' });
  assert.throws(() => insert(db, 'directory_config', { id: 2, config: '{}' }), /CHECK constraint/, 'one directory');
  db.close();
});
