// Transport choice: SAN for thick disks with a proxy that sees the LUN, else HotAdd, else NBD;
// a mode asked for by name is never swapped for another.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProxySummary } from '../../shared/domain.ts';
import { chooseTransport, type TransportInput } from '../../electron/restore/transport-choice.ts';

const proxy = (name: string, transports: ProxySummary['transports'], paths: Record<string, string> = { DS1: '/lun' }): ProxySummary => ({
  id: name,
  name,
  host: 'vc',
  transports,
  proxyVm: 'proxy-vm',
  datastorePaths: paths,
  maxTasks: 1,
  createdAt: '',
});
const input = (patch: Partial<TransportInput>): TransportInput => ({
  requested: 'auto',
  thick: true,
  datastore: 'DS1',
  proxies: [],
  busy: () => null,
  hotAddBlocker: () => null,
  ...patch,
});

test('auto prefers SAN, then HotAdd, then NBD, saying why each was passed over', () => {
  assert.equal(chooseTransport(input({ proxies: [proxy('p', ['san', 'hotadd'])] })).mode, 'san');
  const thin = chooseTransport(input({ thick: false, proxies: [proxy('p', ['san', 'hotadd'])] }));
  assert.equal(thin.mode, 'hotadd');
  assert.match(thin.reasons.join(), /only thick disks/);
  const blind = chooseTransport(input({ proxies: [proxy('p', ['san', 'hotadd'], { OTHER: '/x' })] }));
  assert.equal(blind.mode, 'nbd');
  assert.match(blind.reasons.join(), /cannot see datastore DS1/);
  const busy = chooseTransport(input({ proxies: [proxy('p', ['san'])], busy: () => 'is busy' }));
  assert.deepEqual([busy.mode, busy.proxy], ['nbd', null]);
});

test('a mode asked for by name is used or refused with its reason', () => {
  assert.equal(chooseTransport(input({ requested: 'hotadd', proxies: [proxy('p', ['hotadd'])] })).mode, 'hotadd');
  assert.throws(() => chooseTransport(input({ requested: 'san', thick: false, proxies: [proxy('p', ['san'])] })), {
    code: 'bad-request',
    message: /only thick disks/,
  });
  assert.throws(
    () => chooseTransport(input({ requested: 'hotadd', proxies: [proxy('p', ['hotadd'])], hotAddBlocker: () => 'has no proxy VM' })),
    { message: /proxy p has no proxy VM/ },
  );
  assert.equal(chooseTransport(input({ requested: 'nbd', proxies: [proxy('p', ['san'])] })).mode, 'nbd');
});

test('a proxy must see every datastore the disks go to: auto falls back to NBD, a mode by name is refused', () => {
  const placed = { alsoDatastores: ['DS2'], proxies: [proxy('p', ['san', 'hotadd'])] };
  const auto = chooseTransport(input(placed));
  assert.deepEqual([auto.mode, auto.proxy], ['nbd', null]);
  assert.match(auto.reasons.join(), /proxy p cannot see datastore DS2/);
  assert.throws(() => chooseTransport(input({ ...placed, requested: 'san' })), {
    code: 'bad-request',
    message: /cannot see datastore DS2/,
  });
  assert.equal(chooseTransport(input({ ...placed, proxies: [proxy('p', ['san'], { DS1: '/a', DS2: '/b' })] })).mode, 'san');
});
