// The engine's mover port at the protocol level, with a TLS client written here: a join redeems
// its token once and gets a certificate; that certificate says hello, is welcomed, renews, and its
// mover becomes a restore proxy of its host; a foreign certificate, a used token, a removed mover
// and anything but `join` without a certificate are refused; damaged frames from a mover end only
// its connection (fast-check over real frames), and the port keeps working.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import fc from 'fast-check';
import { encodeFrame, FrameDecoder, MOVER_PROTOCOL, type MoverMessage } from '../../electron/movers/protocol.ts';
import { listenForMovers } from '../../electron/rpc/mover-listener.ts';
import { openEngine, tempDir, until } from '../helpers/env.ts';

const dir = await tempDir();
const engine = await openEngine(join(dir, 'home'));
const listener = await listenForMovers(engine, { host: '127.0.0.1', port: 0 });
after(() => listener.close());
engine.catalog.addHost({
  id: randomUUID(),
  name: 'vc',
  kind: 'vsphere',
  url: 'https://vc.invalid/sdk',
  user: 'u',
  insecure: true,
  createdAt: new Date().toISOString(),
});

type Peer = { socket: TLSSocket; next(): Promise<MoverMessage | 'closed'>; send(message: MoverMessage): void };

function peer(credentials: { key?: string | Buffer; cert?: string | Buffer } = {}): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: listener.port, rejectUnauthorized: false, ...credentials }, () => {
      const decoder = new FrameDecoder();
      const inbox: (MoverMessage | 'closed')[] = [];
      let waiting: ((message: MoverMessage | 'closed') => void) | null = null;
      const deliver = (message: MoverMessage | 'closed'): void => {
        if (waiting) {
          const wake = waiting;
          waiting = null;
          wake(message);
        } else inbox.push(message);
      };
      socket.on('data', (chunk: Buffer) => {
        for (const frame of decoder.push(chunk)) deliver(frame.message);
      });
      socket.on('close', () => deliver('closed'));
      socket.on('error', () => undefined);
      resolve({
        socket,
        next: () => {
          const queued = inbox.shift();
          if (queued) return Promise.resolve(queued);
          return new Promise((wake, fail) => {
            waiting = wake;
            setTimeout(() => fail(new Error('no answer from the engine')), 10_000).unref();
          });
        },
        send: (message) => {
          for (const part of encodeFrame(message)) socket.write(part);
        },
      });
    });
    socket.once('error', reject);
  });
}

function keyPair(): { publicKeyPem: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A mover added and joined over the port: its key and certificate. */
async function joined(name: string): Promise<{ key: string; cert: string }> {
  const { token } = engine.enrollment.add({ name, host: 'vc', proxyVm: null }, 'test');
  const keys = keyPair();
  const joining = await peer();
  joining.send({ type: 'join', token, publicKeyPem: keys.publicKeyPem });
  const answer = await joining.next();
  assert.equal(typeof answer === 'object' && answer.type, 'joined', JSON.stringify(answer));
  assert.equal(await joining.next(), 'closed', 'the engine closes after joined');
  const again = await peer();
  again.send({ type: 'join', token, publicKeyPem: keys.publicKeyPem });
  const refused = await again.next();
  assert.ok(typeof refused === 'object' && refused.type === 'refused' && refused.code === 'forbidden', 'a token joins once');
  return { key: keys.privateKeyPem, cert: typeof answer === 'object' && answer.type === 'joined' ? answer.certificatePem : '' };
}

const hello: MoverMessage = {
  type: 'hello',
  protocol: MOVER_PROTOCOL,
  transports: ['san'],
  datastores: { LocalDS_0: '/srv/ds0' },
  slots: 2,
  version: 'test',
};

test('mover port: join, hello, welcome, renew; the mover is a proxy of its host while connected', async () => {
  const credentials = await joined('m1');
  const mover = await peer(credentials);
  mover.send(hello);
  const welcome = await mover.next();
  assert.ok(typeof welcome === 'object' && welcome.type === 'welcome' && welcome.moverName === 'm1');
  assert.ok(new Date(welcome.renewAfter) < new Date(welcome.certificateExpiresAt));
  assert.deepEqual(
    engine.movers.proxiesOf('vc').map((proxy) => [proxy.name, proxy.maxTasks, proxy.datastorePaths]),
    [['m1', 2, { LocalDS_0: '/srv/ds0' }]],
  );
  assert.equal(engine.movers.isMover('m1'), true);
  mover.send({ type: 'renew' });
  const renewed = await mover.next();
  assert.equal(typeof renewed === 'object' && renewed.type, 'certificate');
  mover.socket.destroy();
  await until('the mover to be seen gone', () => (engine.movers.proxiesOf('vc').length === 0 ? true : undefined));
  assert.equal(engine.movers.live((engine.enrollment.find('m1') ?? { id: '' }).id)?.connected, false);
  // The certificate it had before renewing is refused now.
  const stale = await peer(credentials);
  const refused = await stale.next();
  assert.ok(typeof refused === 'object' && refused.type === 'refused' && /no longer its own/.test(refused.message));
});

test('mover port: a foreign certificate, a removed mover and a certificate-less hello are refused', async () => {
  const key = join(dir, 'foreign.key');
  const cert = join(dir, 'foreign.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat([
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=m2',
    ]),
    { stdio: 'ignore' },
  );
  const foreign = await peer({ key: readFileSync(key), cert: readFileSync(cert) });
  const refusedForeign = await foreign.next();
  assert.ok(typeof refusedForeign === 'object' && refusedForeign.type === 'refused');
  assert.equal(refusedForeign.code, 'forbidden');
  assert.match(refusedForeign.message, /certificate not issued by this engine/);

  const bare = await peer();
  bare.send(hello);
  const refusedBare = await bare.next();
  assert.ok(typeof refusedBare === 'object' && refusedBare.type === 'refused' && /may only join/.test(refusedBare.message));

  const credentials = await joined('m3');
  const mover = await peer(credentials);
  mover.send(hello);
  assert.equal(((await mover.next()) as MoverMessage).type, 'welcome');
  engine.enrollment.remove('m3', 'test');
  engine.movers.onRemoved((engine.enrollment.find('m3') ?? { id: '' }).id);
  assert.equal(await mover.next(), 'closed', 'a removed mover is dropped at once');
  const back = await peer(credentials);
  const refusedRemoved = await back.next();
  assert.ok(typeof refusedRemoved === 'object' && refusedRemoved.type === 'refused' && refusedRemoved.code === 'forbidden');
  assert.match(refusedRemoved.message, /removed/);
});

test('mover port: a connection opened before its mover was removed, and saying hello only after, is refused', async () => {
  const credentials = await joined('m5');
  const parked = await peer(credentials);
  // The engine took the connection (its first ping says so); no hello yet. Then the operator
  // removes the mover.
  const first = await parked.next();
  assert.equal(typeof first === 'object' && first.type, 'ping');
  engine.enrollment.remove('m5', 'test');
  engine.movers.onRemoved((engine.enrollment.find('m5') ?? { id: '' }).id);
  parked.send(hello);
  const answer = await parked.next();
  assert.ok(typeof answer === 'object' && answer.type === 'refused' && answer.code === 'forbidden', JSON.stringify(answer));
  assert.match(answer.message, /removed/);
  assert.deepEqual(
    engine.movers.proxiesOf('vc').map((proxy) => proxy.name),
    [],
    'never offered to a restore',
  );
});

test('mover port: damaged frames from a mover end its connection only (fast-check)', async () => {
  const credentials = await joined('m4');
  const real = Buffer.concat([
    ...encodeFrame(hello),
    ...encodeFrame({ type: 'pong' }),
    ...encodeFrame({ type: 'credit', task: 'none', bytes: 10 }),
  ]);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ at: fc.nat(real.length - 1), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
      fc.nat(real.length),
      async (flips, cut) => {
        const damaged = Buffer.from(real.subarray(0, Math.max(cut, 9)));
        for (const flip of flips) if (flip.at < damaged.length) damaged[flip.at] = flip.value;
        const mover = await peer(credentials);
        mover.socket.write(damaged);
        mover.socket.end();
        // Whatever it makes of the bytes, the engine answers at most with frames and closes.
        for (let answer = await mover.next(); answer !== 'closed'; answer = await mover.next())
          assert.ok(['welcome', 'refused', 'ping'].includes(answer.type), answer.type);
      },
    ),
    { numRuns: 30 },
  );
  const mover = await peer(credentials);
  mover.send(hello);
  assert.equal(((await mover.next()) as MoverMessage).type, 'welcome', 'the port still works');
  mover.socket.destroy();
});
