// The movers' channels join the catalog's movers with what the hub sees of them: the state each
// is in, its live figures while connected, the command line with the listener's address (or a
// placeholder), and a removal the hub hears of.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { catalogTest } from '../helpers/catalog-backends.ts';
import { MoverEnrollment } from '../../electron/movers/enrollment.ts';
import { moverHandlers, type MoverLive, type MoverLiveView } from '../../electron/movers/mover-handlers.ts';
import type { CallContext } from '../../electron/handlers/handler-registry.ts';
import { tempDir } from '../helpers/env.ts';

const context: CallContext = {
  caller: { account: 'tester', role: 'administrator', via: 'os' },
  actor: 'os:tester',
  signal: new AbortController().signal,
};

catalogTest('movers.list shows each state with the live figures of connected movers; add and remove reach the hub', async (_t, backend) => {
  const dir = await tempDir();
  const catalog = await backend.open();
  try {
    catalog.addHost({
      id: 'host-1',
      name: 'vc',
      kind: 'vsphere',
      url: 'https://vc/sdk',
      user: 'u',
      insecure: false,
      createdAt: new Date().toISOString(),
    });
    const enrollment = await MoverEnrollment.open({ catalog, folder: join(dir, 'movers') });
    const live = new Map<string, MoverLive>();
    const removed: string[] = [];
    let address: string | null = null;
    const view: MoverLiveView = { live: (id) => live.get(id) ?? null, address: () => address, onRemoved: (id) => removed.push(id) };
    const handlers = moverHandlers(enrollment, view);

    const first = await handlers['movers.add']({ name: 'mover-a', host: 'vc', proxyVm: null }, context);
    assert.equal(
      first.command,
      `lifeboat mover --engine <engine-address> --token ${first.token} --state <folder> --datastore <name>=<path>`,
    );
    address = '127.0.0.1:7421';
    const second = await handlers['movers.add']({ name: 'mover-b', host: 'vc', proxyVm: 'pvm' }, context);
    assert.match(second.command, /^lifeboat mover --engine 127\.0\.0\.1:7421 --token lbm1\./);
    const third = await handlers['movers.add']({ name: 'mover-c', host: 'vc', proxyVm: null }, context);
    const publicKeyPem = () =>
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    enrollment.redeem(first.token, publicKeyPem());
    enrollment.redeem(second.token, publicKeyPem());
    live.set(first.mover.id, {
      transports: ['hotadd', 'nbd'],
      datastores: { ds1: '/mnt/ds1' },
      slots: 4,
      tasks: [{ jobId: 'job-1', disk: 'scsi0:0', bytesDone: 10, bytesTotal: 100 }],
      bytesPerSecond: 1_000_000,
      lastError: null,
      lastSeenAt: new Date().toISOString(),
      connected: true,
    });
    live.set(second.mover.id, { ...(live.get(first.mover.id) as MoverLive), connected: false, lastError: 'connection lost' });

    const listed = await handlers['movers.list']({}, context);
    assert.deepEqual(
      listed.map((mover) => [mover.name, mover.state, mover.slots, mover.tasks.length, mover.lastError]),
      [
        ['mover-a', 'connected', 4, 1, null],
        ['mover-b', 'disconnected', 4, 1, 'connection lost'],
        ['mover-c', 'awaiting-join', 0, 0, null],
      ],
    );
    assert.deepEqual(listed[0]?.datastores, { ds1: '/mnt/ds1' });

    assert.deepEqual(await handlers['movers.remove']({ mover: 'mover-a' }, context), { removed: 'mover-a' });
    assert.deepEqual(removed, [first.mover.id], 'the hub drops its connection');
    const after = await handlers['movers.list']({}, context);
    assert.deepEqual(
      after.map((mover) => [mover.name, mover.state, mover.tasks.length]),
      [
        ['mover-a', 'removed', 0],
        ['mover-b', 'disconnected', 1],
        ['mover-c', 'awaiting-join', 0],
      ],
    );
    assert.equal(third.mover.state, 'awaiting-join');
  } finally {
    catalog.close();
  }
});
