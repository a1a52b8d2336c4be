// Migration 3 adds backup proxies, each belonging to a host that takes them along when removed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { catalogAt, columnNames, insert, migrate, rows, AT } from '../helpers/catalog-at.ts';

test('migration 3 adds backup proxies that belong to a host', () => {
  const db = catalogAt(2);
  insert(db, 'hosts', {
    id: 'host-1',
    name: 'vcenter',
    kind: 'vsphere',
    url: 'https://vcenter/sdk',
    user_name: 'backup',
    insecure: 1,
    created_at: AT,
  });
  migrate(db, 3);
  assert.deepEqual(rows(db, 'SELECT name, insecure FROM hosts'), [{ name: 'vcenter', insecure: 1 }]);
  assert.deepEqual(columnNames(db, 'proxies'), [
    'id',
    'name',
    'host_id',
    'transports',
    'proxy_vm',
    'datastore_paths',
    'max_tasks',
    'created_at',
  ]);
  const proxy = {
    id: 'proxy-1',
    name: 'proxy',
    host_id: 'host-1',
    transports: '["hotadd"]',
    proxy_vm: null,
    datastore_paths: '{}',
    max_tasks: 2,
    created_at: AT,
  };
  assert.throws(() => insert(db, 'proxies', { ...proxy, max_tasks: 0 }), /CHECK constraint/);
  assert.throws(() => insert(db, 'proxies', { ...proxy, host_id: 'no-such-host' }), /FOREIGN KEY constraint/);
  insert(db, 'proxies', proxy);
  db.prepare('DELETE FROM hosts').run();
  assert.deepEqual(rows(db, 'SELECT * FROM proxies'), [], "a host's proxies go with it");
  db.close();
});
