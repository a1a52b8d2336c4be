// The virtual tape library and drive model: streaming (speed matching, starvation), fixed
// blocks, filemarks and locate, end of medium, write protection, offline tapes, and a changer
// shared by two processes that never loses or duplicates a cartridge.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { StreamingModel } from '../../electron/drivers/tape/streaming-model.ts';
import { LTO9 } from '../../electron/drivers/tape/library-state.ts';
import { VirtualTapeLibrary } from '../../electron/drivers/tape/virtual-library.ts';

const dir = await mkdtemp(join(tmpdir(), 'lifeboat-tape-unit-'));
after(() => rm(dir, { recursive: true, force: true }));
const MIB = 1024 * 1024;

/** Feeds the model reads of `chunk` bytes at `hostRate` bytes/s on a simulated clock. */
function readAt(hostRate: number, total: number, chunk = MIB): { starved: number; waitedMs: number } {
  let clock = 0;
  const model = new StreamingModel(LTO9, () => clock);
  let waited = 0;
  for (let done = 0; done < total; done += chunk) {
    const wait = model.read(chunk);
    waited += wait;
    clock += wait + (chunk / hostRate) * 1000;
  }
  return { starved: model.starvedEvents, waitedMs: waited };
}

test('the drive model: a fast host waits for the tape, a matched one streams, a slow one makes it stop', () => {
  const fast = readAt(2e9, 4096 * MIB);
  assert.equal(fast.starved, 0);
  assert.ok(fast.waitedMs > ((4096 * MIB) / 400e6) * 1000 * 0.8, 'a host faster than the drive is paced to 400 MB/s');
  assert.equal(readAt(250e6, 8192 * MIB).starved, 0, 'speed matching covers 250 MB/s');
  assert.ok(readAt(50e6, 8192 * MIB).starved > 0, 'a 50 MB/s host lets the buffer fill: the drive stops');
  // Writing: a slow writer runs the buffer dry once streaming has started.
  let clock = 0;
  const model = new StreamingModel(LTO9, () => clock);
  for (let i = 0; i < 4096; i++) {
    clock += model.write(MIB) + (MIB / 50e6) * 1000;
  }
  assert.ok(model.starvedEvents > 0);
});

test('a drive writes fixed blocks and filemarks, locates, and stops at the end of the medium', async () => {
  const library = await VirtualTapeLibrary.create(join(dir, 'lib1'), {
    slots: 4,
    drives: 1,
    mailslots: 1,
    tapes: 2,
    capacityBytes: 64 * 4096,
    blockSize: 4096,
    timeScale: 0.0001,
  });
  const drive = await library.load('LB0001L9', 'test');
  await assert.rejects(drive.write(Buffer.alloc(100)), /fixed blocks of 4096/);
  for (let file = 0; file < 3; file++) {
    for (let block = 0; block < 2; block++) await drive.write(Buffer.alloc(4096, file * 10 + block));
    await drive.writeFilemarks(1);
  }
  await drive.locate(2, 1);
  const read = await drive.read();
  assert.equal(read.kind, 'block');
  assert.equal((read as { data: Uint8Array }).data[0], 21);
  assert.equal((await drive.read()).kind, 'filemark');
  assert.equal((await drive.read()).kind, 'end-of-data');
  let warned = false;
  await assert.rejects(async () => {
    for (let i = 0; i < 100; i++) warned = (await drive.write(Buffer.alloc(4096))).earlyWarning || warned;
  }, /end of medium/);
  assert.ok(warned, 'early warning came before the end');
  await library.unload(drive);
  await library.setWriteProtected('LB0002L9', true);
  const protectedDrive = await library.load('LB0002L9', 'test');
  await assert.rejects(protectedDrive.write(Buffer.alloc(4096)), /write-protected/);
  await library.unload(protectedDrive);
  await library.exportTape('LB0002L9');
  await assert.rejects(library.load('LB0002L9', 'test'), /offline; import it through a mail slot/);
  await assert.rejects(library.exportTape('LB0002L9'), /already offline/);
  await library.importTape('LB0002L9');
  await assert.rejects(library.importTape('LB0002L9'), /already in the library/);
  await assert.rejects(library.load('NOPE', 'test'), /knows no tape NOPE/);
});

test('two processes moving tapes through the mail slots never lose or duplicate one', async () => {
  const folder = join(dir, 'lib2');
  await VirtualTapeLibrary.create(folder, {
    slots: 8,
    drives: 1,
    mailslots: 2,
    tapes: 6,
    capacityBytes: 64 * 4096,
    blockSize: 4096,
    timeScale: 0.0001,
  });
  const script = `
    import { VirtualTapeLibrary } from ${JSON.stringify(join(import.meta.dirname, '..', '..', 'electron', 'drivers', 'tape', 'virtual-library.ts'))};
    const library = await VirtualTapeLibrary.open(process.argv[1]);
    const mine = process.argv.slice(2);
    for (let round = 0; round < 15; round++) for (const barcode of mine) { await library.exportTape(barcode); await library.importTape(barcode); }
  `;
  const run = (barcodes: string[]): Promise<number | null> =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, folder, ...barcodes], {
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      child.once('exit', resolve);
    });
  const codes = await Promise.all([run(['LB0001L9', 'LB0002L9', 'LB0003L9']), run(['LB0004L9', 'LB0005L9', 'LB0006L9'])]);
  assert.deepEqual(codes, [0, 0]);
  const inventory = await (await VirtualTapeLibrary.open(folder)).inventory();
  const placed = inventory.slots.filter((slot) => slot !== null).sort();
  assert.deepEqual(placed, ['LB0001L9', 'LB0002L9', 'LB0003L9', 'LB0004L9', 'LB0005L9', 'LB0006L9']);
  assert.ok(inventory.mailslots.every((slot) => slot === null));
});

test('standalone drives: tapes go in and out of the drive by hand', async () => {
  const library = await VirtualTapeLibrary.create(join(dir, 'standalone'), {
    slots: 0,
    drives: 1,
    mailslots: 0,
    tapes: 0,
    capacityBytes: 64 * 4096,
    blockSize: 4096,
    timeScale: 0.0001,
  });
  await library.addCartridge('SA0001L9', {});
  await library.addCartridge('SA0002L9', {});
  await library.importTape('SA0001L9');
  assert.deepEqual(
    (await library.inventory()).drives.map((drive) => drive.barcode),
    ['SA0001L9'],
  );
  await assert.rejects(library.importTape('SA0002L9'), /every drive of .* holds a tape/);
  const drive = await library.load('SA0001L9', 'test');
  await drive.write(Buffer.alloc(4096, 7));
  await drive.writeFilemarks(1);
  await assert.rejects(library.exportTape('SA0001L9'), /can leave once it is unloaded/);
  await library.unload(drive);
  assert.equal((await library.inventory()).drives[0]?.barcode, 'SA0001L9', 'ejected, waiting to be taken');
  await library.exportTape('SA0001L9');
  await library.importTape('SA0002L9');
  assert.equal((await library.inventory()).cartridges.find((tape) => tape.barcode === 'SA0001L9')?.location.kind, 'offline');
});
