// Migration 23 adds the data movers: a join token kept only as its SHA-256, the serial of the
// certificate a joined mover holds now, and removal that keeps the row (its certificate is still
// refused by name) while freeing the name.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, insert, migrate, rows, schemaNames, AT } from '../helpers/catalog-at.ts';

const SHA = (digit: string) => digit.repeat(64);

test('migration 23 adds movers: unique live names, token hashes, one certificate serial each, tied to their host', () => {
  const db = catalogAt(22);
  addFirstRows(db);
  insert(db, 'hosts', {
    id: 'host-1',
    name: 'vcenter',
    kind: 'vsphere',
    url: 'https://vc/sdk',
    user_name: 'u',
    insecure: 0,
    created_at: AT,
  });
  migrate(db, 23);
  assert.deepEqual(rows(db, 'SELECT name FROM repositories'), [{ name: 'main' }]);
  assert.deepEqual(rows(db, 'SELECT name FROM hosts'), [{ name: 'vcenter' }]);
  assert.deepEqual(columnNames(db, 'movers'), [
    'id',
    'name',
    'host_id',
    'proxy_vm',
    'token_sha256',
    'token_expires_at',
    'joined_at',
    'certificate_serial',
    'certificate_expires_at',
    'created_at',
    'removed_at',
  ]);
  assert.ok(schemaNames(db, 'index').includes('movers_live_name'));
  const mover = { id: 'm-1', name: 'mover-a', host_id: 'host-1', token_sha256: SHA('a'), token_expires_at: AT, created_at: AT };
  insert(db, 'movers', mover);
  assert.deepEqual(rows(db, 'SELECT proxy_vm, joined_at, certificate_serial, removed_at FROM movers'), [
    { proxy_vm: null, joined_at: null, certificate_serial: null, removed_at: null },
  ]);
  assert.throws(
    () => insert(db, 'movers', { ...mover, id: 'm-2', token_sha256: SHA('b') }),
    /UNIQUE constraint/,
    'one live mover per name',
  );
  assert.throws(() => insert(db, 'movers', { ...mover, id: 'm-3', name: 'b', token_sha256: 'short' }), /CHECK constraint/);
  assert.throws(() => insert(db, 'movers', { ...mover, id: 'm-4', name: 'c' }), /UNIQUE constraint/, 'a token hash is one mover’s');
  assert.throws(() => insert(db, 'movers', { ...mover, id: 'm-5', name: 'd', token_sha256: SHA('d'), host_id: 'nope' }), /FOREIGN KEY/);
  // A joined mover has a certificate; the columns go together.
  assert.throws(() => insert(db, 'movers', { ...mover, id: 'm-6', name: 'e', token_sha256: SHA('e'), joined_at: AT }), /CHECK constraint/);
  assert.throws(
    () => insert(db, 'movers', { ...mover, id: 'm-7', name: 'f', token_sha256: SHA('f'), joined_at: AT, certificate_serial: '01' }),
    /CHECK constraint/,
  );
  insert(db, 'movers', {
    ...mover,
    id: 'm-8',
    name: 'g',
    token_sha256: SHA('8'),
    joined_at: AT,
    certificate_serial: '0a',
    certificate_expires_at: AT,
  });
  assert.throws(
    () =>
      insert(db, 'movers', {
        ...mover,
        id: 'm-9',
        name: 'h',
        token_sha256: SHA('9'),
        joined_at: AT,
        certificate_serial: '0a',
        certificate_expires_at: AT,
      }),
    /UNIQUE constraint/,
    'a serial is one mover’s',
  );
  // Removed, the name is free again; the removed row stays.
  db.prepare("UPDATE movers SET removed_at = ? WHERE id = 'm-1'").run(AT);
  insert(db, 'movers', { ...mover, id: 'm-10', token_sha256: SHA('c') });
  assert.deepEqual(rows(db, "SELECT id FROM movers WHERE name = 'mover-a' ORDER BY id"), [{ id: 'm-1' }, { id: 'm-10' }]);
  // The host's removal takes its movers' rows with it (the engine refuses it while any is live).
  db.prepare("DELETE FROM hosts WHERE id = 'host-1'").run();
  assert.deepEqual(rows(db, 'SELECT id FROM movers'), []);
  db.close();
});
