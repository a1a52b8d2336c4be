// `lifeboat mover` as a real process against a TLS peer that plays the engine with the wire
// protocol: the join pins the engine's CA, disk tasks of a real image's compressed blocks are
// written identically (qemu-img compare), a killed mover's task resumes from its checkpoint, bad
// blocks and hostile paths are refused with nothing written outside the view, a refusal ends
// the mover (exit 3), and a mover whose engine dies (kill -9) connects again.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { statSync, writeFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, test } from 'node:test';
import type { MessageOf } from '../../electron/movers/protocol.ts';
import { Codec, compressBlock, defaultCodec, ENCRYPTED_CODEC } from '../../electron/repository/codec.ts';
import { smallTmpfs, tempDir } from '../helpers/env.ts';
import { MoverPeer, Pki, type PeerConnection } from '../helpers/mover-peer.ts';
import { startMover, type MoverProcess } from '../helpers/movers.ts';

const MIB = 1024 * 1024;
const BLOCK = MIB;
/** 8 MiB and 300 KiB: the last block is short. */
const CAPACITY = 8 * MIB + 300 * 1024;

const root = await tempDir('lifeboat-mover-');
const pki = await Pki.make(await makeDir('pki'));
const peer = await MoverPeer.listen(pki);

async function makeDir(name: string): Promise<string> {
  const path = join(root, name);
  await mkdir(path, { recursive: true });
  return path;
}

/** A raw disk made as a guest's would be: holes, random data, text, a short last block. */
function makeImage(path: string): void {
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', path, String(CAPACITY)]);
  const dd = (input: string, blockSize: string, count: number, seek: number): void => {
    execFileSync('dd', [`if=${input}`, `of=${path}`, `bs=${blockSize}`, `count=${count}`, `seek=${seek}`, 'conv=notrunc', 'status=none']);
  };
  dd('/dev/urandom', '1M', 2, 1); // blocks 1-2
  dd('/dev/urandom', '100K', 3, 81); // the end of block 7 into the short block 8
  const text = `${path}.txt`;
  writeFileSync(text, Array.from({ length: 8000 }, (_, line) => `line ${line} of a guest's log\n`).join(''));
  dd(text, '64K', 3, 64); // text in block 4
  assert.equal(statSync(path).size, CAPACITY);
}

type StoredBlock = { index: number; codec: number; rawLength: number; sha256: string; payload: Uint8Array };

/** The image's blocks as a backup stores them: holes left out, the rest compressed. */
async function blocksOf(image: string): Promise<StoredBlock[]> {
  const bytes = await readFile(image);
  const blocks: StoredBlock[] = [];
  for (let index = 0; index * BLOCK < bytes.length; index++) {
    const data = bytes.subarray(index * BLOCK, Math.min(bytes.length, (index + 1) * BLOCK));
    if (data.every((byte) => byte === 0)) continue;
    const stored = compressBlock(data, defaultCodec);
    blocks.push({
      index,
      codec: stored.codec,
      rawLength: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
      payload: stored.payload,
    });
  }
  return blocks;
}

const image = join(await makeDir('source'), 'disk.raw');
makeImage(image);
const stored = await blocksOf(image);
const view = await makeDir('view');
const outside = await makeDir('outside');
/** A datastore too small for the disk, where root may mount one: a write runs out of space midway. */
const small = await smallTmpfs('2m');
const datastores: Record<string, string> = small.path ? { ds1: view, ds2: small.path } : { ds1: view };

let tasks = 0;
function task(fields: Partial<MessageOf<'task'>>): MessageOf<'task'> {
  tasks += 1;
  return {
    type: 'task',
    task: `task-${tasks}`,
    jobId: 'job-1',
    disk: 'disk-2000',
    datastore: 'ds1',
    path: `vm${tasks}/disk-flat.vmdk`,
    capacity: CAPACITY,
    blockSize: BLOCK,
    resumeFrom: 0,
    create: true,
    window: 3 * MIB,
    ...fields,
  };
}

type Carried = { end: MessageOf<'done'> | MessageOf<'failed'> | null; checkpoints: MessageOf<'checkpoint'>[]; mostInFlight: number };

/** Plays the engine's side of a task: blocks within the window, `end`, until `done`, `failed` or the link closes. */
async function carry(connection: PeerConnection, sent: MessageOf<'task'>, blocks: StoredBlock[]): Promise<Carried> {
  connection.send(sent);
  const checkpoints: MessageOf<'checkpoint'>[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  let next = 0;
  let ended = false;
  for (;;) {
    for (let block = blocks[next]; block && (inFlight === 0 || inFlight + block.payload.length <= sent.window); block = blocks[++next]) {
      const { payload, ...header } = block;
      connection.send({ type: 'block', task: sent.task, ...header }, payload);
      inFlight += payload.length;
      mostInFlight = Math.max(mostInFlight, inFlight);
    }
    if (next === blocks.length && !ended) {
      connection.send({ type: 'end', task: sent.task });
      ended = true;
    }
    const frame = await connection.take().catch(() => null);
    if (!frame) return { end: null, checkpoints, mostInFlight };
    const { message } = frame;
    if (message.type === 'credit' && message.task === sent.task) inFlight -= message.bytes;
    if (message.type === 'checkpoint' && message.task === sent.task) checkpoints.push(message);
    if ((message.type === 'done' || message.type === 'failed') && message.task === sent.task)
      return { end: message, checkpoints, mostInFlight };
  }
}

function assertIdentical(target: string): void {
  assert.match(execFileSync('qemu-img', ['compare', '-q', '-f', 'raw', '-F', 'raw', image, target], { encoding: 'utf8' }), /^$/);
}

/** Files under a folder, recursively (what a refused task must not have made). */
async function filesUnder(folder: string): Promise<string[]> {
  return (await readdir(folder, { recursive: true })).sort();
}

/** A mover on `port` with the view as ds1, checkpoints every 200 ms unless `env` says otherwise. */
function launch(
  port: number,
  args: { state: string; token?: string; transports?: string[]; slots?: number },
  env: Record<string, string> = {},
): MoverProcess {
  return startMover({ engine: `127.0.0.1:${port}`, datastores, env: { LIFEBOAT_CHECKPOINT_MS: '200', ...env }, ...args });
}

/** Its exit code (null: a signal), once all it printed is read; a failure if it runs on for 30 s. */
async function exitCode(mover: MoverProcess): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the mover still runs after 30 s: ${JSON.stringify(mover.events)} ${mover.stderr}`)), 30_000);
  });
  const stdout = mover.child.stdout as Readable;
  const read = stdout.closed ? Promise.resolve() : once(stdout, 'close');
  const [{ code }] = await Promise.race([Promise.all([mover.exited, read]), late]).finally(() => clearTimeout(timer));
  return code;
}

/** The `{ error }` line the CLI prints (--json) when it ends on an error. */
function failureOf(mover: MoverProcess): { code: string; message: string } | null {
  const line = mover.events.find((event) => 'error' in event) as { error?: { code: string; message: string } } | undefined;
  return line?.error ?? null;
}

const state = join(root, 'state');
let mover: MoverProcess;
let connection: PeerConnection;

test('a token that pins another CA is refused at join, and nothing is stored', async () => {
  const stranger = await Pki.make(await makeDir('stranger-pki'), 'another-engine');
  const refused = launch(peer.port, { state: join(root, 'stranger-state'), token: pki.token(stranger.caFingerprint()) });
  assert.equal(await exitCode(refused), 2);
  assert.equal(failureOf(refused)?.code, 'forbidden');
  assert.match(failureOf(refused)?.message ?? '', /presents CA [0-9a-f]{64}, not the CA [0-9a-f]{64} the token pins/);
  assert.deepEqual(await readdir(join(root, 'stranger-state')), []);
  assert.ok(!peer.received.includes('join'));
});

test('a mover joins with its token, then connects with its own certificate and says what it reaches', async () => {
  mover = launch(peer.port, { state, token: pki.token(), transports: ['hotadd', 'nbd'], slots: 3 });
  const joining = await peer.connection();
  assert.equal(joining.certificate, null);
  const joinMessage = await peer.acceptJoin(joining, 'mover-1');
  assert.match(joinMessage.publicKeyPem, /BEGIN PUBLIC KEY/);
  assert.deepEqual(await mover.waitFor('joined'), { event: 'joined', mover: 'mover-1' });
  assert.equal((await stat(state)).mode & 0o777, 0o700);
  assert.equal((await stat(join(state, 'key.pem'))).mode & 0o777, 0o600);
  assert.equal(await readFile(join(state, 'ca.pem'), 'utf8'), pki.caPem);

  connection = await peer.connection();
  assert.match(connection.certificate?.subject ?? '', /CN=mover-1/);
  const hello = await connection.welcome('mover-1');
  assert.deepEqual(
    { ...hello, version: '' },
    {
      type: 'hello',
      protocol: 1,
      transports: ['hotadd', 'nbd'],
      datastores,
      slots: 3,
      version: '',
    },
  );
  assert.equal((await mover.waitFor('connected')).mover, 'mover-1');

  const again = launch(peer.port, { state, token: pki.token() });
  assert.equal(await exitCode(again), 2);
  assert.match(failureOf(again)?.message ?? '', /already joined as mover-1; remove .*cert\.pem to join again/);
});

test("a disk task of a real image's compressed blocks is written identically, within the window", async () => {
  const sent = task({ path: 'vm-a/vm-a-flat.vmdk' });
  const carried = await carry(connection, sent, stored);
  assert.equal((await mover.waitFor('task-started')).task, sent.task);
  assert.equal(carried.end?.type, 'done', JSON.stringify(carried.end));
  assert.equal(
    (carried.end as MessageOf<'done'>).bytesWritten,
    stored.reduce((sum, block) => sum + block.rawLength, 0),
  );
  assert.ok(carried.mostInFlight <= sent.window);
  assertIdentical(join(view, 'vm-a', 'vm-a-flat.vmdk'));
  assert.equal((await stat(join(view, 'vm-a', 'vm-a-flat.vmdk'))).size, CAPACITY);
  const watermarks = carried.checkpoints.map((checkpoint) => checkpoint.watermark);
  assert.deepEqual(
    watermarks,
    [...watermarks].sort((a, b) => a - b),
  );
  assert.ok(watermarks.every((watermark) => watermark > 0 && watermark <= 9));
  assert.equal((await mover.waitFor('task-done')).task, sent.task);
});

test('a datastore that fills up fails the task as target-full, naming the block', { skip: small.skip }, async () => {
  const { end } = await carry(connection, task({ datastore: 'ds2' }), stored);
  assert.equal(end?.type, 'failed');
  const failed = end as MessageOf<'failed'>;
  assert.equal(failed.code, 'target-full');
  assert.match(failed.message, /^disk disk-2000: block \d+ at offset \d+: the datastore is full$/);
  connection.send({ type: 'ping' });
  await connection.next('pong');
});

test('a block whose SHA-256 does not match fails its task, naming the block and offset; the connection stays up', async () => {
  const [first, second] = stored as [StoredBlock, StoredBlock];
  const damaged = { ...second, sha256: createHash('sha256').update('not this block').digest('hex') };
  const sent = task({});
  const carried = await carry(connection, sent, [first, damaged]);
  assert.equal(carried.end?.type, 'failed');
  const failed = carried.end as MessageOf<'failed'>;
  assert.equal(failed.code, 'corrupt-backup');
  assert.match(
    failed.message,
    new RegExp(`disk disk-2000: block ${second.index} at offset ${second.index * BLOCK}: its SHA-256 does not match`),
  );
  assert.equal((await mover.waitForWhere('task-failed', (seen) => seen.task === sent.task)).code, 'corrupt-backup');
  connection.send({ type: 'ping' });
  await connection.next('pong');
});

test('blocks out of order, of the wrong length or beyond the window fail their task', async () => {
  const [first, second] = stored as [StoredBlock, StoredBlock];
  const cases: [string, MessageOf<'task'>, StoredBlock[], RegExp][] = [
    ['a block again', task({}), [second, second], /block \d+ at offset \d+: out of order/],
    [
      'a block below resumeFrom',
      task({ create: false, resumeFrom: 3, path: 'vm-a/vm-a-flat.vmdk' }),
      [first],
      new RegExp(`block ${first.index} at offset ${first.index * BLOCK}: out of order \\(expected a block from 3 to 8\\)`),
    ],
    ['a block past the disk', task({}), [{ ...first, index: 9 }], /block 9 at offset 9437184: out of order/],
    ['a length that is not the block', task({}), [{ ...first, rawLength: 4096 }], /says 4096 bytes where the disk has 1048576/],
    [
      'a payload that does not inflate',
      task({}),
      [{ ...first, codec: Codec.deflate, payload: Buffer.alloc(5000, 0xff) }],
      /does not decompress/,
    ],
    ['a block still sealed', task({}), [{ ...first, codec: ENCRYPTED_CODEC | Codec.deflate }], /codec 130 is not one a mover decodes/],
  ];
  for (const [what, sent, blocks, says] of cases) {
    const { end } = await carry(connection, sent, blocks);
    assert.equal(end?.type, 'failed', what);
    assert.match((end as MessageOf<'failed'>).message, says, what);
  }
  // The engine ignores the credit it granted: more than `window` bytes arrive before any credit.
  const greedy = task({ window: 1024 });
  connection.send(greedy);
  for (const block of stored.slice(0, 3)) {
    const { payload, ...header } = block;
    connection.send({ type: 'block', task: greedy.task, ...header }, payload);
  }
  const failed = await connection.next('failed');
  assert.match(failed.message.message, /beyond the credit given back \(window 1024\)/);
});

test('a task beyond the slots is refused; a cancelled task ends with failed (cancelled)', async () => {
  const running = [task({}), task({}), task({})];
  for (const sent of running) connection.send(sent);
  const fourth = task({});
  connection.send(fourth);
  const refused = await connection.next('failed');
  assert.deepEqual(refused.message, {
    type: 'failed',
    task: fourth.task,
    code: 'unavailable',
    message: 'all 3 task slots of this mover are busy',
  });
  for (const sent of running) {
    connection.send({ type: 'cancel', task: sent.task });
    const { message } = await connection.next('failed');
    assert.deepEqual({ task: message.task, code: message.code }, { task: sent.task, code: 'cancelled' });
  }
});

test('a mover renews its certificate once the engine says it is time, and keeps the new one', async () => {
  const before = await readFile(join(state, 'cert.pem'), 'utf8');
  connection.socket.destroy();
  connection = await peer.connection();
  await connection.welcome('mover-1', new Date(Date.now() - 1000));
  await connection.next('renew');
  const renewed = await pki.issue(new X509Certificate(before).publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'mover-1');
  const expiresAt = new Date(Date.now() + 2 * 86_400_000).toISOString();
  connection.send({ type: 'certificate', certificatePem: renewed, certificateExpiresAt: expiresAt, renewAfter: expiresAt });
  const deadline = Date.now() + 30_000;
  while ((await readFile(join(state, 'cert.pem'), 'utf8')) !== renewed) {
    assert.ok(Date.now() < deadline, 'the renewed certificate was not stored');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // A certificate for another key is not taken: the connection ends and cert.pem stays.
  const stranger = await pki.issue(new X509Certificate(pki.caPem).publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'mover-1');
  connection.send({ type: 'certificate', certificatePem: stranger, certificateExpiresAt: expiresAt, renewAfter: expiresAt });
  await connection.closed;
  assert.equal(await readFile(join(state, 'cert.pem'), 'utf8'), renewed);
  connection = await peer.connection();
  assert.equal(connection.certificate?.serialNumber, new X509Certificate(renewed).serialNumber);
  await connection.welcome();
});

test('hostile paths are refused and nothing is written outside the view', async () => {
  const before = await filesUnder(outside);
  await writeFile(join(outside, 'victim.img'), 'not a disk');
  await symlink(outside, join(view, 'escape'));
  await symlink(join(outside, 'victim.img'), join(view, 'linked-flat.vmdk'));
  const cases: [string, MessageOf<'task'>, RegExp][] = [
    ['a folder that links outside', task({ path: 'escape/vm/disk-flat.vmdk' }), /escape leads outside the view/],
    ['a file that is a link, created', task({ path: 'linked-flat.vmdk' }), /it is a symbolic link/],
    ['a file that is a link, rewritten', task({ path: 'linked-flat.vmdk', create: false }), /it is a symbolic link/],
    ['a datastore the mover has no view of', task({ datastore: 'ds9' }), /no view of datastore ds9/],
    ['a file that is not there', task({ create: false, path: 'vm-none/disk.vmdk' }), /does not exist/],
    [
      'a file of another size',
      task({ create: false, capacity: CAPACITY + BLOCK, path: 'vm-a/vm-a-flat.vmdk' }),
      /holds \d+ bytes, not the disk's/,
    ],
  ];
  for (const [what, sent, says] of cases) {
    const { end } = await carry(connection, sent, stored.slice(0, 1));
    assert.equal(end?.type, 'failed', what);
    assert.match((end as MessageOf<'failed'>).message, says, what);
  }
  assert.equal(await readFile(join(outside, 'victim.img'), 'utf8'), 'not a disk');
  assert.deepEqual(await filesUnder(outside), [...before, 'victim.img']);

  // '..' and absolute paths never reach the file system: such a task is not a message of the
  // protocol, and the mover ends the connection (then connects again).
  for (const path of ['../outside/x-flat.vmdk', `${outside}/x-flat.vmdk`]) {
    const [disconnects, connects] = [mover.count('disconnected'), mover.count('connected')];
    const header = Buffer.from(JSON.stringify({ ...task({}), path }));
    const lengths = Buffer.alloc(4);
    lengths.writeUInt32BE(header.length);
    connection.sendRaw(Buffer.concat([lengths, header, Buffer.alloc(4)]));
    await connection.closed;
    assert.match(String((await mover.waitFor('disconnected', 30_000, disconnects + 1)).reason), /broke the protocol/);
    connection = await peer.connection();
    await connection.welcome();
    await mover.waitFor('connected', 30_000, connects + 1);
  }
  assert.deepEqual(await filesUnder(outside), [...before, 'victim.img']);
  assert.deepEqual((await readdir(root)).sort(), ['outside', 'pki', 'source', 'state', 'stranger-pki', 'stranger-state', 'view']);
});

test('a mover killed right after a checkpoint resumes its disk from that watermark', async () => {
  mover.child.kill('SIGTERM');
  assert.equal(await exitCode(mover), 0);

  const target = 'vm-resume/disk-flat.vmdk';
  const dying = launch(peer.port, { state }, { LIFEBOAT_KILL_AT: 'mover-checkpoint:2', LIFEBOAT_CHECKPOINT_MS: '1' });
  const first = await peer.connection();
  await first.welcome();
  const carried = await carry(first, task({ path: target }), stored);
  assert.equal(carried.end, null, 'the mover died before it finished');
  assert.equal(await exitCode(dying), null);
  assert.equal(dying.child.signalCode, 'SIGKILL');
  assert.equal(carried.checkpoints.length, 2);
  const watermark = (carried.checkpoints.at(-1) as MessageOf<'checkpoint'>).watermark;
  assert.ok(watermark > 0 && watermark < 9, `watermark ${watermark}`);

  mover = launch(peer.port, { state });
  connection = await peer.connection();
  await connection.welcome();
  const resumed = await carry(
    connection,
    task({ path: target, create: false, resumeFrom: watermark }),
    stored.filter((block) => block.index >= watermark),
  );
  assert.equal(resumed.end?.type, 'done', JSON.stringify(resumed.end));
  assertIdentical(join(view, target));
});

test('a stop signal ends a mover whose engine takes the connection and never answers (exit 0)', async () => {
  // It reads nothing, so the TLS handshake never ends; close() waits for its sockets, hence destroy.
  const sockets: Socket[] = [];
  const silent = createServer((socket) => sockets.push(socket));
  const connected = new Promise<void>((resolve) => silent.once('connection', () => resolve()));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const waiting = launch((silent.address() as AddressInfo).port, { state });
  await connected;
  waiting.child.kill('SIGTERM');
  assert.equal(await exitCode(waiting), 0);
});

test('a mover the engine refuses for good says so on stderr and exits with 3', async () => {
  connection.send({ type: 'refused', code: 'forbidden', message: 'mover mover-1 was removed; join it again with a new token' });
  assert.equal(await exitCode(mover), 3);
  assert.match(mover.stderr, /^lifeboat mover: refused by the engine \(forbidden\): mover mover-1 was removed/);
  assert.equal(mover.stderr.trim().split('\n').length, 1);
  assert.equal((await mover.waitFor('refused')).code, 'forbidden');

  // Refused at hello (a removed mover that starts again): the same, without retrying.
  const removed = launch(peer.port, { state });
  const refusedAt = await peer.connection();
  await refusedAt.next('hello');
  refusedAt.send({ type: 'refused', code: 'forbidden', message: 'mover mover-1 was removed' });
  assert.equal(await exitCode(removed), 3);
});

test('a mover started before its engine listens joins once it does', async () => {
  // A port that was free a moment ago: nothing listens there until the peer below.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const early = launch(port, { state: join(root, 'state-early'), token: pki.token() });
  assert.match(String((await early.waitFor('disconnected')).reason), /cannot be reached/);
  const late = await MoverPeer.listen(pki, port);
  await late.acceptJoin(await late.connection(), 'mover-early');
  assert.equal((await early.waitFor('joined')).mover, 'mover-early');
  await (await late.connection()).welcome('mover-early');
  await early.waitFor('connected');
});

test('a mover whose engine is killed (kill -9) connects again when the engine is back on its port', async () => {
  const pkiDir = pki.dir;
  const engine = spawn(process.execPath, [join(import.meta.dirname, '..', 'helpers', 'mover-peer-child.ts'), pkiDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => engine.once('exit', resolve));
  after(() => {
    if (engine.exitCode === null && engine.signalCode === null) engine.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    engine.stdout.once('data', (chunk: Buffer) =>
      resolve((JSON.parse(chunk.toString().split('\n')[0] as string) as { port: number }).port),
    );
    void exited.then(() => reject(new Error('the peer process ended before it listened')));
  });
  const moverState = join(root, 'state-2');
  const survivor = launch(port, { state: moverState, token: pki.token() }, { LIFEBOAT_MOVER_TIMEOUT_MS: '3000' });
  await survivor.waitFor('joined');
  await survivor.waitFor('connected');

  engine.kill('SIGKILL');
  await exited;
  assert.ok(Number((await survivor.waitFor('disconnected')).retryInMs) >= 1000);
  const back = await MoverPeer.listen(pki, port);
  const again = await back.connection();
  assert.match(again.certificate?.subject ?? '', /CN=mover-1/);
  await again.welcome();
  await survivor.waitFor('connected', 30_000, 2);

  // This engine does not ping: the silence timeout finds it, not TCP, and the mover connects again.
  assert.match(String((await survivor.waitFor('disconnected', 30_000, 2)).reason), /nothing heard from the engine for 3 s/);
  await (await back.connection()).welcome();
  await survivor.waitFor('connected', 30_000, 3);
});
