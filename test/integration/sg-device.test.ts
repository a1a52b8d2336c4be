// The Linux SCSI generic transport against the real kernel, as far as this machine allows: it has
// no SCSI layer (no /dev/sg*, no scsi_debug), so no real sg device answers here. What is real:
// the addon built by npm install loads in this Node; the kernel refuses SG_GET_VERSION_NUM and
// SG_IO on fds that are not sg (a file, /dev/null, a loop device); a character node 21:N with no
// driver behind it, a missing path and a path the user may not open each get their clear error.
// The sg_io_hdr marshalling of the C side is checked through an LD_PRELOAD stand-in for the sg
// driver (native/sg-io/test/sg-shim.c) in a child Node: it records every header field the addon
// sent and answers by opcode, so each field is seen crossing both ways. It is not a SCSI device.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LifeboatError } from '../../electron/errors.ts';
import { SgBus } from '../../electron/drivers/scsi/sg/sg-bus.ts';
import {
  SgDirection,
  sgAvailable,
  sgNative,
  type SgAnswer,
  type SgErrnoError,
  type SgNative,
} from '../../electron/drivers/scsi/sg/sg-native.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const busModule = pathToFileURL(join(root, 'electron/drivers/scsi/sg/sg-bus.ts')).href;
let dir = '';
/** A character node of the sg driver's major (21), or why one could not be made here. */
let sgNode: string | { skip: string } = { skip: 'not made yet' };
let shim: string | { skip: string } = { skip: 'not built yet' };

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-sg-'));
  chmodSync(dir, 0o755); // another user's child must reach the node to be refused by its mode
  const node = join(dir, 'sg0');
  const made = spawnSync('mknod', ['-m', '0600', node, 'c', '21', '0'], { encoding: 'utf8' });
  sgNode = made.status === 0 ? node : { skip: `mknod cannot make a character device here: ${made.stderr?.trim() || made.error?.message}` };
  const library = join(dir, 'sg-shim.so');
  const built = spawnSync('cc', ['-shared', '-fPIC', '-O1', '-o', library, join(root, 'native/sg-io/test/sg-shim.c'), '-ldl'], {
    encoding: 'utf8',
  });
  shim = built.status === 0 ? library : { skip: `the sg stand-in does not compile: ${built.stderr?.trim() || built.error?.message}` };
});

after(() => rmSync(dir, { recursive: true, force: true }));

function addon(): SgNative {
  const native = sgNative();
  assert.equal(typeof native, 'object', `the SG_IO addon is not usable: ${String(native)}`);
  return native as SgNative;
}

async function refusedWith(code: string, promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof LifeboatError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

function sgIo(native: SgNative, fd: number, cdb: Uint8Array, direction: SgDirection, buffer: Uint8Array | null) {
  return new Promise<{ error: SgErrnoError | null; answer?: SgAnswer }>((resolve) =>
    native.sgIo(fd, cdb, direction, buffer, 1000, (error, answer) => resolve({ error, answer })),
  );
}

test('the addon npm install built loads in this Node (Node-API, no download)', () => {
  assert.equal(sgAvailable(), null);
  assert.ok(Number(process.versions.node.split('.')[0]) >= 24, process.version);
  assert.equal(typeof addon().sgIo, 'function');
  assert.throws(() => addon().sgVersion(-1), TypeError);
  assert.throws(
    () => addon().sgIo(0, new Uint8Array(0), SgDirection.none, null, 1000, () => undefined),
    /cdb must be a Uint8Array of 1 to 252 bytes/,
  );
});

test('where the addon was not built, sgAvailable says so and what to run', () => {
  // The same module in a tree without native/sg-io/build (it imports only node: modules).
  const copy = join(dir, 'tree/electron/drivers/scsi/sg/sg-native.ts');
  mkdirSync(dirname(copy), { recursive: true });
  copyFileSync(join(root, 'electron/drivers/scsi/sg/sg-native.ts'), copy);
  const script = `import { sgAvailable } from ${JSON.stringify(pathToFileURL(copy).href)}; console.log(sgAvailable());`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(child.status, 0, child.stderr);
  assert.equal(
    child.stdout.trim(),
    'the SG_IO addon is not built (native/sg-io/build/Release/sg_io.node): run npm install (it needs g++, make and python3)',
  );
});

test('the kernel refuses sg ioctls on fds that are not sg: a file, /dev/null, a loop device', async () => {
  const native = addon();
  const file = join(dir, 'plain');
  writeFileSync(file, 'not a device');
  const paths = [file, '/dev/null', ...(existsSync('/dev/loop0') ? ['/dev/loop0'] : [])];
  for (const path of paths) {
    const fd = openSync(path, 'r+');
    try {
      assert.throws(
        () => native.sgVersion(fd),
        (error: SgErrnoError) => typeof error.errno === 'number' && /^SG_GET_VERSION_NUM: /.test(error.message),
        path,
      );
      // The same refusal through the thread pool: the callback gets the errno, the loop never blocked.
      const { error, answer } = await sgIo(native, fd, Uint8Array.of(0x12, 0, 0, 0, 36, 0), SgDirection.fromDevice, new Uint8Array(36));
      assert.equal(answer, undefined);
      assert.ok(error !== null && typeof error.errno === 'number' && /^SG_IO: /.test(error.message), `${path}: ${error?.message}`);
    } finally {
      closeSync(fd);
    }
  }
});

test('SgBus.open refuses what is not an sg device, a missing path, and a node with no driver behind it', async (t) => {
  const notSg = (path: string) =>
    new RegExp(`^${path} is not a Linux SCSI generic device \\(sg\\); use the /dev/sgN of the library's changer and drives$`);
  const file = join(dir, 'plain');
  writeFileSync(file, 'not a device');
  for (const path of [file, '/dev/null', dir, ...(existsSync('/dev/loop0') ? ['/dev/loop0'] : [])])
    await refusedWith('bad-request', SgBus.open([path]), notSg(path));
  await refusedWith('not-found', SgBus.open([join(dir, 'sg9')]), /sg9 does not exist; lsscsi -g lists the sg devices/);
  await refusedWith('bad-request', SgBus.open([]), /at least one device/);
  if (typeof sgNode !== 'string') return t.skip(sgNode.skip);
  const link = join(dir, 'changer');
  symlinkSync(sgNode, link);
  await refusedWith(
    'bad-request',
    SgBus.open([sgNode, link]),
    /sg0 and .*changer are the same device; name each of the library's devices once/,
  );
  // This kernel has no sg driver: the node opens to ENXIO, as a /dev/sgN whose device was removed.
  await refusedWith('unavailable', SgBus.open([sgNode]), /sg0: no device answers behind it \(ENXIO\)/);
});

test(
  'a path the user may not open is refused with what to change',
  { skip: process.getuid?.() === 0 ? false : 'needs root to make the device node' },
  (t) => {
    if (typeof sgNode !== 'string') return t.skip(sgNode.skip);
    // Root may open anything: the refusal is seen by a child running as nobody.
    const script = `import { SgBus } from ${JSON.stringify(busModule)};
    try { await SgBus.open([${JSON.stringify(sgNode)}]); console.log('opened'); } catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(child.status, 0, child.stderr);
    const refusal = JSON.parse(child.stdout) as { code: string; message: string };
    assert.equal(refusal.code, 'unavailable');
    assert.match(refusal.message, /sg0: permission denied; the user running Lifeboat needs read and write access to it/);
  },
);

/** Runs `body` (module code with `bus`, `device`, `out(value)`) in a child Node whose sg node is served by the stand-in. */
function withStandIn(body: string): { outcome: Record<string, unknown>; headers: Record<string, unknown>[] } {
  assert.ok(typeof sgNode === 'string' && typeof shim === 'string');
  const log = join(dir, `headers-${Date.now()}.jsonl`);
  const script = `import { SgBus } from ${JSON.stringify(busModule)};
    import { readdirSync } from 'node:fs';
    const result = {};
    const out = (name, value) => { result[name] = value; };
    const failure = (error) => ({ code: error.code, message: error.message });
    const bus = await SgBus.open([${JSON.stringify(sgNode)}]);
    const [device] = await bus.devices();
    ${body}
    await bus.close();
    console.log(JSON.stringify(result));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, LD_PRELOAD: shim, SG_SHIM_PATH: sgNode, SG_SHIM_LOG: log },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(child.status, 0, child.stderr);
  const headers = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : [];
  return {
    outcome: JSON.parse(child.stdout) as Record<string, unknown>,
    headers: headers.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

function standInSkip(): string | false {
  if (typeof sgNode !== 'string') return sgNode.skip;
  if (typeof shim !== 'string') return shim.skip;
  return false;
}

test('every sg_io_hdr field crosses the addon both ways (through the LD_PRELOAD stand-in)', (t) => {
  const skip = standInSkip();
  if (skip) return t.skip(skip);
  const { outcome, headers } = withStandIn(`
    const hex = (bytes) => Buffer.from(bytes).toString('hex');
    const inquiry = await device.execute({ cdb: Uint8Array.of(0x12, 0, 0, 0, 96, 0), dataInLength: 96, timeoutMs: 123456 });
    out('inquiry', { status: inquiry.status, residual: inquiry.residual, length: inquiry.data.length, text: Buffer.from(inquiry.data).toString('latin1', 8), sense: inquiry.sense });
    const ready = await device.execute({ cdb: new Uint8Array(6) });
    out('ready', { status: ready.status, sense: hex(ready.sense) });
    const read = await device.execute({ cdb: Uint8Array.of(0x08, 0, 0, 0x10, 0, 0), dataInLength: 4096 });
    out('read', { residual: read.residual, length: read.data.length, counts: read.data.every((byte, i) => byte === (i & 0xff)) });
    // A view into a larger buffer, as a caller's slice of a pooled Buffer: the addon must send from its offset.
    const block = Uint8Array.from({ length: 65536 + 13 }, (_, i) => (i * 7) & 0xff).subarray(13);
    const write = await device.execute({ cdb: Uint8Array.of(0x0a, 0, 1, 0, 0, 0), dataOut: block });
    out('write', { status: write.status, length: write.data.length, sum: block.reduce((a, b) => a + b, 0) });
    await device.execute({ cdb: Uint8Array.of(0x92, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a, 0, 0, 0, 0, 0, 0), timeoutMs: 4 * 3600_000 });
    for (const [name, opcode] of [['noConnect', 0xf0], ['gone', 0xf1], ['timedOut', 0xf2]])
      out(name, await device.execute({ cdb: Uint8Array.of(opcode, 0, 0, 0, 0, 0), timeoutMs: 5000 }).then(() => 'answered', failure));
    const fds = readdirSync('/proc/self/fd').length;
    out('halfOpen', await SgBus.open([${JSON.stringify(sgNode)}, '/dev/null']).then(() => 'opened', failure));
    out('fdsLeft', readdirSync('/proc/self/fd').length - fds);
  `);
  assert.deepEqual(outcome.inquiry, { status: 0, residual: 60, length: 36, text: 'SHIM    SG_IO MARSHAL   0001', sense: null });
  assert.deepEqual(outcome.ready, { status: 2, sense: '700002000000000a000000003a0000000000' });
  assert.deepEqual(outcome.read, { residual: 3096, length: 1000, counts: true });
  const write = outcome.write as { status: number; length: number; sum: number };
  assert.equal(write.status, 0);
  assert.equal(write.length, 0);
  assert.deepEqual(outcome.noConnect, {
    code: 'unavailable',
    message: `${sgNode as string}: command F0h failed on the way to the device: no connection to the device (DID_NO_CONNECT)`,
  });
  assert.deepEqual(outcome.gone, {
    code: 'unavailable',
    message: `${sgNode as string}: command F1h failed: the device is gone (ENODEV); it was removed or its link went down`,
  });
  assert.equal((outcome.halfOpen as { code: string }).code, 'bad-request', 'the second path is not sg');
  assert.equal(outcome.fdsLeft, 0, 'a library that does not open whole closes the devices it had opened');
  assert.deepEqual(outcome.timedOut, {
    code: 'unavailable',
    message: `${sgNode as string}: command F2h did not finish within 5 s; the kernel aborted it`,
  });

  const sent = headers.map(({ interface: id, direction, cmdLen, cdb, dxferLen, timeout, mxSbLen, flags, outSum }) => ({
    id,
    direction,
    cmdLen,
    cdb,
    dxferLen,
    timeout,
    mxSbLen,
    flags,
    outSum,
  }));
  const common = { id: 'S', mxSbLen: 252, flags: 0 };
  assert.deepEqual(sent.slice(0, 5), [
    { ...common, direction: -3, cmdLen: 6, cdb: '120000006000', dxferLen: 96, timeout: 123456, outSum: 0 },
    { ...common, direction: -1, cmdLen: 6, cdb: '000000000000', dxferLen: 0, timeout: 60000, outSum: 0 },
    { ...common, direction: -3, cmdLen: 6, cdb: '080000100000', dxferLen: 4096, timeout: 60000, outSum: 0 },
    { ...common, direction: -2, cmdLen: 6, cdb: '0a0001000000', dxferLen: 65536, timeout: 60000, outSum: write.sum },
    { ...common, direction: -1, cmdLen: 16, cdb: '9200000000000000002a000000000000', dxferLen: 0, timeout: 14_400_000, outSum: 0 },
  ]);
  assert.equal(sent.length, 8);
});

test('one command at a time per device, in order; the event loop runs meanwhile; an abort stops only what is not yet sent', (t) => {
  const skip = standInSkip();
  if (skip) return t.skip(skip);
  const { outcome, headers } = withStandIn(`
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const queued = new AbortController();
    const late = new AbortController();
    const rewind = device.execute({ cdb: Uint8Array.of(0x01, 0, 0, 0, 0, 0), signal: late.signal });
    const inquiry = device.execute({ cdb: Uint8Array.of(0x12, 0, 0, 0, 36, 0), dataInLength: 36 });
    const dropped = device.execute({ cdb: Uint8Array.of(0x08, 0, 0, 0, 1, 0), dataInLength: 1, signal: queued.signal });
    const afterDrop = device.execute({ cdb: Uint8Array.of(0x00, 0, 0, 0, 0, 0) });
    await new Promise((resolve) => setTimeout(resolve, 50));
    late.abort();
    queued.abort();
    out('rewind', (await rewind).status);
    out('ticksDuringRewind', ticks);
    out('inquiry', (await inquiry).data.length);
    out('dropped', await dropped.then(() => 'sent', failure));
    out('afterDrop', (await afterDrop).status);
    const closing = device.execute({ cdb: Uint8Array.of(0x01, 0, 0, 0, 0, 0) });
    await bus.close();
    out('inFlightAtClose', (await closing).status);
    out('afterClose', await device.execute({ cdb: new Uint8Array(6) }).then(() => 'sent', failure));
    clearInterval(timer);
  `);
  assert.equal(outcome.rewind, 0, 'an abort after the command was sent does not undo it: its answer is returned');
  assert.ok((outcome.ticksDuringRewind as number) > 0, 'timers ran while the kernel held the rewind');
  assert.equal(outcome.inquiry, 36);
  assert.deepEqual(outcome.dropped, { code: 'cancelled', message: `${sgNode as string}: command 08h was cancelled before it was sent` });
  assert.equal(outcome.afterDrop, 2);
  assert.equal(outcome.inFlightAtClose, 0, 'close waits for the command the kernel holds');
  assert.deepEqual(outcome.afterClose, { code: 'unavailable', message: `${sgNode as string} is closed` });
  assert.deepEqual(
    headers.map((header) => (header.cdb as string).slice(0, 2)),
    ['01', '12', '00', '01'],
  );
  assert.ok(
    headers.every((header) => header.overlap === false),
    'no two commands were in the kernel at once',
  );
});
