// Migration 5 makes the audit log append-only and hash-chained: entries written before it keep
// their text with empty hashes, and none can be changed or removed afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columns, migrate, rows, schemaNames } from '../helpers/catalog-at.ts';

test('migration 5 chains the audit log and freezes the entries already there', () => {
  const db = catalogAt(4);
  addFirstRows(db);
  migrate(db, 5);
  assert.deepEqual(rows(db, 'SELECT actor, action, subject, prev_hash, hash FROM audit_log'), [
    { actor: 'cli', action: 'backup', subject: 'web', prev_hash: '', hash: '' },
  ]);
  assert.deepEqual(
    columns(db, 'audit_log').filter((column) => column.name.endsWith('hash')),
    [
      { name: 'prev_hash', type: 'TEXT', notnull: 1, dflt_value: "''" },
      { name: 'hash', type: 'TEXT', notnull: 1, dflt_value: "''" },
    ],
  );
  assert.deepEqual(schemaNames(db, 'trigger'), ['audit_log_no_delete', 'audit_log_no_update']);
  assert.throws(() => db.prepare("UPDATE audit_log SET actor = 'someone else'").run(), /the audit log is append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit_log').run(), /the audit log is append-only/);
  assert.equal(rows(db, 'SELECT * FROM audit_log').length, 1);
  db.close();
});
