// `lifeboat serve` survives any request: a running serve process (the real CLI) gets arbitrary
// bytes, mutated HTTP requests, hostile paths and headers, and arbitrary WebSocket frames (through
// the `ws` client and written raw), and the home's local socket gets arbitrary lines. After every
// run the process must be alive and still serve the page and a session's request.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect as connectUnix } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, test } from 'node:test';
import fc from 'fast-check';
import { requestChannelNames } from '../../shared/generated/channels.ts';
import { tempDir, until } from '../helpers/env.ts';
import {
  ask,
  assertServing,
  cli,
  hello,
  nextFrame,
  openPeer,
  rawExchange,
  startServe,
  statusOf,
  type ServeProcess,
} from '../helpers/serve-process.ts';

const run = promisify(execFile);
const runs = { numRuns: 150 };
const dir = await tempDir();
const home = join(dir, 'home');
// Started here, not in before(): its after() hook (which stops it) must belong to the file.
const serve: ServeProcess = await startServe(home);
const host = new URL(serve.origin).host;
let key = '';

before(async () => {
  const peer = await openPeer(serve.origin);
  key = (await hello(peer, serve.token)) ?? '';
  peer.socket.close();
  assert.ok(key, 'the printed token is traded for a session key');
});

const request = (head: string): Buffer => Buffer.from(`${head}\r\n\r\n`, 'latin1');
/** One request on its own connection, which the server closes after answering. */
const answerTo = (head: string): Promise<Buffer> =>
  rawExchange(serve.port, request(head.replace('\r\n', '\r\nConnection: close\r\n')), { halfClose: false });

test('hostile request targets, methods and headers each get an HTTP answer, and the engine lives', async () => {
  const cases: [string, number][] = [
    [`GET /%FF HTTP/1.1\r\nHost: ${host}`, 400],
    [`GET /%E0%A4%A HTTP/1.1\r\nHost: ${host}`, 400],
    [`GET /%00 HTTP/1.1\r\nHost: ${host}`, 400],
    [`GET http://[ HTTP/1.1\r\nHost: ${host}`, 400],
    [`GET * HTTP/1.1\r\nHost: ${host}`, 400],
    [`GET /../../etc/passwd HTTP/1.1\r\nHost: ${host}`, 404],
    [`GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: ${host}`, 404],
    [`GET /..%5c..%5cetc/passwd HTTP/1.1\r\nHost: ${host}`, 404],
    [`GET //etc/passwd HTTP/1.1\r\nHost: ${host}`, 404],
    [`GET / HTTP/1.1\r\nHost: attacker.example:${serve.port}`, 421],
    [`GET / HTTP/1.0`, 421],
    [`DELETE / HTTP/1.1\r\nHost: ${host}`, 405],
    [`BREW / HTTP/1.1\r\nHost: ${host}`, 400],
    [`POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\n\r\nhello`, 405],
    [`GET / HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(100_000)}`, 431],
    [`GET / HTTP/9.9\r\nHost: ${host}`, 400],
    [`GET / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: -1`, 400],
    [`GET / HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\nzz`, 400],
    [
      `GET /rpc HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: http://attacker.example\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      403,
    ],
    [
      `GET /other HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ${serve.origin}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      404,
    ],
    [
      `GET /rpc HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ${serve.origin}\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: x`,
      400,
    ],
    [`GET /rpc HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ${serve.origin}`, 400],
    [
      `POST /rpc HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ${serve.origin}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
      405,
    ],
    [`GET /%FF HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ${serve.origin}`, 404],
  ];
  // CONNECT and a tunnelling upgrade of `/` are closed or refused, like the rest.
  assert.equal(statusOf(await answerTo(`CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22`)), null);
  assert.equal(statusOf(await answerTo(`GET / HTTP/1.1\r\nHost: ${host}\r\nUpgrade: h2c\r\nConnection: Upgrade`)), 404);
  for (const [head, status] of cases) {
    const answer = await answerTo(head);
    assert.equal(statusOf(answer), status, head.slice(0, 120));
  }
  const huge = await fetch(`${serve.origin}/`, { method: 'PUT', body: Buffer.alloc(4 * 1024 * 1024) }).catch(() => null);
  assert.ok(huge === null || huge.status === 405, 'a 4 MiB body to PUT is refused');
  await assertServing(serve, key);
});

test('arbitrary bytes, and valid requests with bytes inserted, removed or replaced, never stop the engine', async () => {
  const valid = [
    `GET / HTTP/1.1\r\nHost: ${host}\r\nAccept: */*\r\n\r\n`,
    `HEAD /index.html HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    `GET /rpc HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ${serve.origin}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`,
    `POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\n\r\nbody`,
  ].map((text) => Buffer.from(text, 'latin1'));
  const mutated = fc
    .tuple(
      fc.constantFrom(...valid),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 40 }), fc.uint8Array({ maxLength: 40 })), { minLength: 1, maxLength: 4 }),
    )
    .map(([base, edits]) => {
      let bytes = Buffer.from(base);
      for (const [at, cut, insert] of edits) {
        const start = at % (bytes.length + 1);
        bytes = Buffer.concat([bytes.subarray(0, start), insert, bytes.subarray(start + cut)]);
      }
      return bytes;
    });
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ maxLength: 2000 }).map((bytes) => Buffer.from(bytes)),
        mutated,
      ),
      async (bytes) => {
        await rawExchange(serve.port, bytes);
        assert.equal(serve.child.exitCode, null);
      },
    ),
    runs,
  );
  await assertServing(serve, key);
});

test('any request path gets 200, 400 or 404, and only console files are ever served', async () => {
  const segment = fc.oneof(
    fc.constantFrom('..', '.', '', '%2e%2e', '%2F', '%5C', '%FF', '%00', '%', '%E2%82', 'index.html', 'app.js', 'etc', 'passwd', '~'),
    fc.string({ maxLength: 8 }).map(encodeURIComponent),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(segment, { maxLength: 8 }), async (segments) => {
      const path = `/${segments.join('/')}`;
      const answer = await answerTo(`GET ${path} HTTP/1.1\r\nHost: ${host}`);
      const status = statusOf(answer);
      assert.ok(status === 200 || status === 400 || status === 404, `${path}: ${status}`);
      if (status === 200) assert.doesNotMatch(answer.toString('latin1'), /root:x:0:0/);
    }),
    runs,
  );
  await assertServing(serve, key);
});

test('WebSocket frames of any kind get an answer or a close, signed in or not', async () => {
  const readOnly = [
    'engine.info',
    'vms.list',
    'points.list',
    'jobs.list',
    'jobs.get',
    'settings.get',
    'audit.list',
    'files.search',
    'sessions.list',
    'keys.list',
    'repos.list',
  ];
  const frame = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
    fc
      .record(
        {
          type: fc.constantFrom('hello', 'request', 'welcome', 'fatal', 'event'),
          token: fc.oneof(fc.string({ maxLength: 300 }), fc.constant(serve.token), fc.constant(key)),
          id: fc.oneof(fc.integer(), fc.double()),
          channel: fc.oneof(fc.constantFrom(...readOnly), fc.string({ maxLength: 120 })),
          payload: fc.anything({ maxDepth: 3 }),
        },
        { requiredKeys: ['type'] },
      )
      .map((value) => JSON.stringify(value)),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    fc.constant(Buffer.from([0xc3, 0x28, 0x7b, 0x7d])), // invalid UTF-8, sent as text when `binary` is false
  );
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(frame, { minLength: 1, maxLength: 5 }), fc.boolean(), async (signIn, frames, binary) => {
      const peer = await openPeer(serve.origin);
      if (signIn) assert.equal(await hello(peer, key), key);
      for (const item of frames)
        if (peer.socket.readyState === peer.socket.OPEN) peer.socket.send(item, { binary: binary && typeof item !== 'string' });
      if (peer.socket.readyState === peer.socket.OPEN)
        peer.socket.send(JSON.stringify({ type: 'request', id: 424242, channel: 'engine.info', payload: {} }));
      await nextFrame(peer, (sent) => sent.type === 'response' && sent.id === 424242);
      peer.socket.terminate();
      assert.equal(serve.child.exitCode, null);
    }),
    runs,
  );
  await assertServing(serve, key);
});

test('raw WebSocket frames (any opcode, reserved bits, lengths up to 2^64, unmasked) never stop the engine', async () => {
  const handshake = (): Buffer =>
    request(
      `GET /rpc HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ${serve.origin}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    );
  const header = fc
    .tuple(fc.nat({ max: 255 }), fc.nat({ max: 255 }), fc.uint8Array({ minLength: 0, maxLength: 12 }))
    .map(([first, second, rest]) => Buffer.from([first, second, ...rest]));
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(header, fc.uint8Array({ maxLength: 200 })), { minLength: 1, maxLength: 6 }), async (frames) => {
      const answer = await rawExchange(serve.port, Buffer.concat([handshake(), ...frames.flatMap(([head, body]) => [head, body])]));
      assert.equal(statusOf(answer), 101);
      assert.equal(serve.child.exitCode, null);
    }),
    runs,
  );
  await assertServing(serve, key);
});

test('the WebSocket rules, case by case', async () => {
  const closeOf = async (send: (peer: Awaited<ReturnType<typeof openPeer>>) => void): Promise<{ code: number; fatal: unknown }> => {
    const peer = await openPeer(serve.origin);
    send(peer);
    const { code } = await peer.closed;
    return {
      code,
      fatal: (peer.frames.find((sent) => (sent as { type: string }).type === 'fatal') as { error?: unknown } | undefined)?.error,
    };
  };
  const early = await closeOf((peer) => peer.socket.send(JSON.stringify({ type: 'request', id: 1, channel: 'vms.list', payload: {} })));
  assert.deepEqual(early, { code: 4000, fatal: { code: 'unauthorized', message: 'say hello with the console token first' } });
  const replay = await closeOf((peer) => peer.socket.send(JSON.stringify({ type: 'hello', token: serve.token })));
  assert.equal(replay.code, 4003, 'the one-time token does not work twice');
  assert.equal((await closeOf((peer) => peer.socket.send(JSON.stringify({ type: 'hello', token: 'x'.repeat(32) })))).code, 4003);
  assert.equal(
    (await closeOf((peer) => peer.socket.send(Buffer.from('{"type":"hello"}'), { binary: true }))).code,
    4000,
    'binary frames are refused',
  );
  assert.equal(
    (await closeOf((peer) => peer.socket.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false }))).code,
    1007,
    'invalid UTF-8 text',
  );
  assert.equal((await closeOf((peer) => peer.socket.send('{"type":"hello","token":"abc"'))).code, 4000, 'not JSON');
  assert.equal((await closeOf((peer) => peer.socket.send('[1,2,3]'))).code, 4000, 'JSON of the wrong shape');
  // Only the header of a 2 MiB frame is sent, so the close cannot race the rest of its bytes.
  const oversized = Buffer.concat([
    Buffer.from([0x81, 0xff]),
    Buffer.from([0, 0, 0, 0, 0, 0x20, 0, 0]),
    randomBytes(4),
    Buffer.from('xxxx'),
  ]);
  const handshake = request(
    `GET /rpc HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nOrigin: ${serve.origin}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
  );
  const answer = await rawExchange(serve.port, Buffer.concat([handshake, oversized]));
  const closeFrame = answer.subarray(answer.indexOf('\r\n\r\n') + 4);
  assert.equal(closeFrame[0], 0x88, 'a close frame');
  assert.equal(closeFrame.readUInt16BE(2), 1009, 'over 1 MiB');
  const flood = await closeOf((peer) => {
    for (let i = 0; i < 500; i++) peer.socket.ping();
  });
  assert.equal(flood.code, 1006, 'a ping flood is cut off');

  // Sockets that never say hello are capped; the operator's own still gets in once they go.
  const silent = await Promise.all(Array.from({ length: 70 }, () => openPeer(serve.origin)));
  const turnedAway: number[] = [];
  for (const each of silent) void each.closed.then(({ code }) => turnedAway.push(code));
  await until('six sockets turned away', () => (turnedAway.length >= 6 ? true : undefined));
  assert.deepEqual(turnedAway, [1013, 1013, 1013, 1013, 1013, 1013], 'the 65th and later are told to come back later');
  for (const each of silent) each.socket.terminate();
  await Promise.all(silent.map((each) => each.closed));

  // Fragments of one message are one frame; a session key reconnects; many requests at once are capped.
  const peer = await openPeer(serve.origin);
  const helloText = JSON.stringify({ type: 'hello', token: key });
  peer.socket.send(helloText.slice(0, 5), { fin: false });
  peer.socket.send(helloText.slice(5), { fin: true });
  assert.ok(await nextFrame(peer, (sent) => sent.type === 'welcome'));
  // audit.verify needs an account (viewer): sign in as one the OS user made through the home socket.
  await run(process.execPath, [cli, '--home', home, 'accounts', 'add', 'fuzzer', '--role', 'viewer', '--password-env', 'FUZZER_PW'], {
    env: { ...process.env, FUZZER_PW: 'fuzzer-console-pw' },
  });
  assert.equal((await ask(peer, 0, 'auth.login', { user: 'fuzzer', password: 'fuzzer-console-pw' }))?.ok, true);
  for (let id = 1; id <= 200; id++) peer.socket.send(JSON.stringify({ type: 'request', id, channel: 'audit.verify', payload: {} }));
  const responses = (): { ok: boolean; error?: { code: string } }[] =>
    peer.frames.filter((sent) => (sent as { type: string }).type === 'response' && (sent as { id: number }).id >= 1) as {
      ok: boolean;
      error?: { code: string };
    }[];
  await nextFrame(peer, () => responses().length >= 200);
  const answers = responses();
  assert.equal(answers.length, 200, 'every request is answered');
  // How many hit the in-flight cap depends on how the frames were coalesced; each is answered either way.
  assert.ok(
    answers.every((answer) => answer.ok || answer.error?.code === 'unavailable'),
    'answered, or refused as over the in-flight cap',
  );
  assert.equal((await ask(peer, 201, 'auth.whoami'))?.ok, true, 'and the peer is served again once answers are out');
  peer.socket.close();
  await assertServing(serve, key);
});

test('the home socket: arbitrary lines get a fatal frame or an answer, never a crash', async () => {
  const socketPath = join(home, 'engine.sock');
  const line = fc.oneof(
    fc.uint8Array({ maxLength: 500 }).map((bytes) => Buffer.from(bytes)),
    fc.jsonValue({ maxDepth: 4 }).map((value) => Buffer.from(`${JSON.stringify(value)}\n`)),
    fc
      .record({
        type: fc.constantFrom('request', 'hello'),
        id: fc.integer(),
        channel: fc.constantFrom(...requestChannelNames.filter((name) => name.endsWith('.list') || name === 'engine.info'), 'nope'),
        payload: fc.anything({ maxDepth: 2 }),
      })
      .map((value) => Buffer.from(`${JSON.stringify(value)}\n`)),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 5 }), async (lines) => {
      await new Promise<void>((resolve) => {
        const socket = connectUnix(socketPath);
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
        socket.on('connect', () => socket.end(Buffer.concat(lines)));
        socket.resume();
      });
      assert.equal(serve.child.exitCode, null);
    }),
    runs,
  );
  await assertServing(serve, key);
});

test('a connection that never finishes its headers (slowloris) is closed by the server', async () => {
  const answer = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    void import('node:net').then(({ connect }) => {
      const socket = connect({ host: '127.0.0.1', port: serve.port });
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(Buffer.concat(chunks)));
      socket.on('connect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nX-Slow: `));
    });
  });
  assert.equal(statusOf(answer), 408);
  await assertServing(serve, key);
});
