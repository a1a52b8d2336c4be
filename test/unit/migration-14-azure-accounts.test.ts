// Migration 14 adds Azure Storage accounts (names only; keys live in the secret store).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, insert, migrate, rows, AT } from '../helpers/catalog-at.ts';

test('migration 14 adds Azure Storage accounts, with no column for a key', () => {
  const db = catalogAt(13);
  addFirstRows(db);
  insert(db, 'arrays', { name: 'array-1', path: '/arrays/1', created_at: AT });
  migrate(db, 14);
  assert.deepEqual(rows(db, 'SELECT name FROM arrays'), [{ name: 'array-1' }]);
  assert.deepEqual(columnNames(db, 'azure_accounts'), ['id', 'name', 'blob_url', 'account_name', 'created_at']);
  const account = {
    id: 'azure-1',
    name: 'offsite',
    blob_url: 'https://offsite.blob.core.windows.net',
    account_name: 'offsite',
    created_at: AT,
  };
  insert(db, 'azure_accounts', account);
  assert.throws(() => insert(db, 'azure_accounts', { ...account, id: 'azure-2' }), /UNIQUE constraint/);
  db.close();
});
