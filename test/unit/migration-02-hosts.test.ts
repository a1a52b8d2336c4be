// Migration 2 adds the hosts table beside the first schema's rows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFirstRows, catalogAt, columnNames, insert, migrate, rows, AT } from '../helpers/catalog-at.ts';

test('migration 2 adds hypervisor hosts and keeps what was there', () => {
  const db = catalogAt(1);
  addFirstRows(db);
  migrate(db, 2);
  assert.deepEqual(rows(db, 'SELECT id, name FROM vms'), [{ id: 'vm-1', name: 'web' }]);
  assert.deepEqual(columnNames(db, 'hosts'), ['id', 'name', 'kind', 'url', 'user_name', 'insecure', 'created_at']);
  const host = {
    id: 'host-1',
    name: 'vcenter',
    kind: 'vsphere',
    url: 'https://vcenter/sdk',
    user_name: 'backup',
    insecure: 0,
    created_at: AT,
  };
  insert(db, 'hosts', host);
  assert.throws(() => insert(db, 'hosts', { ...host, id: 'host-2' }), /UNIQUE constraint/, 'a host name is taken once');
  assert.throws(() => insert(db, 'hosts', { ...host, id: 'host-3', name: 'esx', kind: 'hyper-v' }), /CHECK constraint/);
  assert.throws(() => insert(db, 'hosts', { ...host, id: 'host-4', name: 'esx', insecure: 2 }), /CHECK constraint/);
  db.close();
});
