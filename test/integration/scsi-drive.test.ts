// The SCSI tape drive against tgt's SSC emulation over our iSCSI initiator: files of blocks and
// filemarks written through the write-behind queue come back byte for byte through the
// read-ahead queue and through plain READs; locate finds (file, block) forwards, backwards and
// inside what was read ahead; starvation is counted from real gaps; and the faults a tape shows
// (write protection, early warning near the end, an unreadable block) reach the engine as the
// errors it handles.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { test } from 'node:test';
import { TapeMediumError, type TapeDrive, type TapeRead } from '../../electron/drivers/tape/tape-driver.ts';
import type { ScsiTapeDrive } from '../../electron/drivers/scsi/scsi-drive.ts';
import { readBlock, rewind, writeBlock, writeFilemarks } from '../../electron/drivers/scsi/ssc.ts';
import { BlockStreamReader, BlockStreamWriter } from '../../electron/tape/tape-format.ts';
import { rejectsWith, tgtSkip, useTgtScsiLibrary } from '../helpers/tgt-scsi-library.ts';

const skip = tgtSkip;
const TIMEOUT = { timeout: 120_000 };
const BLOCK = 32 * 1024;

// A small buffer makes the drive's patience about 50 ms, so a host that stops for 300 ms shows.
const TAPES = { DATA01L9: 16, SMALL1L9: 1, PROT01L9: 2, BAD001L9: 4, SLOW01L9: 4, STREAM1L9: 4, ODD001L9: 1 };
const lab = useTgtScsiLibrary(
  { drives: 1, slots: 8, mailslots: 0, tapes: Object.entries(TAPES).map(([barcode, sizeMiB]) => ({ barcode, sizeMiB })) },
  { name: 'tgt', blockSize: BLOCK, queueBytes: 8 * BLOCK, model: { bufferBytes: 5 * 1024 * 1024, bytesPerSecond: 100e6 } },
);

/** A block whose every byte says where it is (file, block) and is unlike its neighbours'. */
function blockAt(file: number, block: number): Uint8Array {
  const data = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) data[i] = (file * 131 + block * 31 + i * 7 + (i >> 8)) & 0xff;
  return data;
}

const FILES = [12, 9, 15];

async function writeFiles(drive: TapeDrive): Promise<void> {
  for (const [file, blocks] of FILES.entries()) {
    for (let block = 0; block < blocks; block++) await drive.write(blockAt(file, block));
    await drive.writeFilemarks(1);
  }
}

function assertBlock(read: TapeRead, file: number, block: number): void {
  assert.equal(read.kind, 'block', `file ${file} block ${block}`);
  if (read.kind === 'block') assert.ok(Buffer.from(read.data).equals(blockAt(file, block)), `the bytes of file ${file} block ${block}`);
}

async function withTape<T>(barcode: string, work: (drive: ScsiTapeDrive) => Promise<T>): Promise<T> {
  const drive = (await lab.library.load(barcode, 'test')) as ScsiTapeDrive;
  try {
    return await work(drive);
  } finally {
    await lab.library.unload(drive);
  }
}

test('files written behind come back byte-identical, by locate and by reading ahead', { skip, ...TIMEOUT }, async () => {
  await withTape('DATA01L9', async (drive) => {
    assert.equal((await drive.read()).kind, 'end-of-data', 'a new tape is blank');
    await drive.rewind();
    await writeFiles(drive);
    assert.deepEqual(drive.position(), { file: 3, block: 0 });
    assert.equal(drive.stats().bytesWritten, (12 + 9 + 15) * BLOCK);

    await drive.rewind();
    await drive.locate(2, 7);
    assertBlock(await drive.read(), 2, 7);
    assert.deepEqual(drive.position(), { file: 2, block: 8 });

    // Backwards, then forwards inside what the read-ahead holds, then to the next file.
    await drive.locate(0, 3);
    assertBlock(await drive.read(), 0, 3);
    await drive.locate(0, 9);
    assertBlock(await drive.read(), 0, 9);
    for (let block = 10; block < 12; block++) assertBlock(await drive.read(), 0, block);
    assert.equal((await drive.read()).kind, 'filemark');
    assert.deepEqual(drive.position(), { file: 1, block: 0 });
    await drive.locate(2, 0);
    assertBlock(await drive.read(), 2, 0);
    await drive.locate(1, 8);
    assertBlock(await drive.read(), 1, 8);
    assert.equal((await drive.read()).kind, 'filemark');

    await rejectsWith(drive.locate(7, 0), 'not-found', /tape DATA01L9 in drive 1 has no file 7/);
    // After a failed locate the drive finds its way again.
    await drive.locate(1, 2);
    assertBlock(await drive.read(), 1, 2);
    assert.ok(drive.stats().locates >= 6);
  });
});

test('the read-ahead gives the same objects as plain READs of the tape', { skip, ...TIMEOUT }, async () => {
  await withTape('DATA01L9', async (drive) => {
    const ahead: TapeRead[] = [];
    for (let guard = 0; guard < 100; guard++) {
      const read = await drive.read();
      ahead.push(read);
      if (read.kind === 'end-of-data') break;
    }
    const plain: TapeRead[] = [];
    await rewind(drive.device);
    for (let guard = 0; guard < 100; guard++) {
      const read = await readBlock(drive.device, BLOCK);
      plain.push(read);
      if (read.kind === 'end-of-data') break;
    }
    // Plain READs moved the tape behind the drive's back: a rewind puts both in step again.
    await drive.rewind();
    assert.equal(ahead.length, 12 + 9 + 15 + 3 + 1);
    assert.deepEqual(
      ahead.map((read) => (read.kind === 'block' ? Buffer.from(read.data).toString('base64') : read.kind)),
      plain.map((read) => (read.kind === 'block' ? Buffer.from(read.data).toString('base64') : read.kind)),
    );
    assert.deepEqual(drive.position(), { file: 0, block: 0 });
  });
});

/** Waits until the write-behind has put `bytes` on tape (on a busy machine that takes a while). */
async function written(drive: TapeDrive, bytes: number): Promise<void> {
  for (let guard = 0; guard < 1000 && drive.stats().bytesWritten < bytes; guard++) await new Promise((resolve) => setTimeout(resolve, 10));
}

test('a host that stops between blocks starves the drive; a pause on purpose does not', { skip, ...TIMEOUT }, async () => {
  await withTape('SLOW01L9', async (drive) => {
    for (let block = 0; block < 4; block++) await drive.write(blockAt(0, block));
    await written(drive, 4 * BLOCK);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await drive.write(blockAt(0, 4));
    await drive.writeFilemarks(1);
    const starved = drive.stats().starvedEvents;
    assert.ok(starved >= 1, `a 300 ms gap with a 50 ms buffer counts (${starved})`);

    await drive.write(blockAt(1, 0));
    await written(drive, 6 * BLOCK);
    drive.pause();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await drive.write(blockAt(1, 1));
    await drive.writeFilemarks(1);
    assert.equal(drive.stats().starvedEvents, starved, 'the pause was announced');
    assert.ok(drive.stats().busySeconds > 0);

    await drive.rewind();
    for (let block = 0; block < 5; block++) assertBlock(await drive.read(), 0, block);

    // Reading: the read-ahead fills its 8 blocks and waits for the host; a slow host starves it.
    await drive.locate(2, 0);
    for (let block = 0; block < 20; block++) await drive.write(blockAt(2, block));
    await drive.writeFilemarks(1);
    await drive.locate(2, 0);
    const before = drive.stats();
    assertBlock(await drive.read(), 2, 0);
    await readAhead(drive, before.bytesRead + 9 * BLOCK);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assertBlock(await drive.read(), 2, 1);
    await readAhead(drive, before.bytesRead + 10 * BLOCK);
    const paused = drive.stats().starvedEvents;
    assert.ok(paused >= before.starvedEvents + 1, 'the full read-ahead waited 300 ms for the host');
    drive.pause();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assertBlock(await drive.read(), 2, 2);
    await readAhead(drive, before.bytesRead + 11 * BLOCK);
    assert.equal(drive.stats().starvedEvents, paused, 'the pause was announced');
    for (let block = 3; block < 20; block++) assertBlock(await drive.read(), 2, block);
  });
});

/** Waits until the read-ahead has read `bytes` in all. */
async function readAhead(drive: TapeDrive, bytes: number): Promise<void> {
  for (let guard = 0; guard < 1000 && drive.stats().bytesRead < bytes; guard++) await new Promise((resolve) => setTimeout(resolve, 10));
}

test('a write-protected tape refuses writes with its barcode, and says so when loaded', { skip, ...TIMEOUT }, async () => {
  const lun = ['--mode', 'logicalunit', '--tid', '1', '--lun', String(lab.tgt.luns.drives[0])];
  await lab.tgt.admin(['--op', 'update', ...lun, '--params', 'readonly=1']);
  try {
    await withTape('PROT01L9', async (drive) => {
      assert.equal(drive.writeProtected, true);
      const inventory = await lab.library.inventory();
      assert.equal(inventory.cartridges.find((cartridge) => cartridge.barcode === 'PROT01L9')?.writeProtected, true);
      await rejectsWith(drive.write(blockAt(0, 0)), 'conflict', /tape PROT01L9 is write-protected/);
      await rejectsWith(drive.writeFilemarks(1), 'conflict', /tape PROT01L9 is write-protected/);
      assert.equal((await drive.read()).kind, 'end-of-data', 'reading still works');
    });
  } finally {
    await lab.tgt.admin(['--op', 'update', ...lun, '--params', 'readonly=0']);
  }
});

test('near the end of a small tape the drive warns early, and the file can still be finished', { skip, ...TIMEOUT }, async () => {
  await withTape('SMALL1L9', async (drive) => {
    let warnedAt = -1;
    for (let block = 0; block < 200 && warnedAt < 0; block++) {
      if ((await drive.write(blockAt(0, block))).earlyWarning) warnedAt = block;
    }
    // tgt warns once the data passes the tape's size (1 MiB = 32 blocks); the warning shows on
    // the call after the block that learnt it, since writes run behind.
    assert.ok(warnedAt >= 30 && warnedAt < 60, `early warning at block ${warnedAt}`);
    await drive.write(blockAt(0, warnedAt + 1)).then(({ earlyWarning }) => assert.equal(earlyWarning, true, 'the warning stays'));
    await drive.writeFilemarks(1);
    await drive.rewind();
    await drive.locate(0, warnedAt + 1);
    assertBlock(await drive.read(), 0, warnedAt + 1);
    assert.equal((await drive.read()).kind, 'filemark');
  });
});

/** Makes block `block` of file `file` unreadable in a tgt tape image (README.ssc's format: a
 * 48-byte big-endian header before each object, linked by offsets): its header's own offset
 * points past the end of the image, so tgt's READ of it fails while SPACE can still pass it. */
async function damageBlock(path: string, file: number, block: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const header = Buffer.alloc(48);
    let offset = 0;
    let currentFile = 0;
    let currentBlock = 0;
    for (let guard = 0; guard < 100_000; guard++) {
      await handle.read(header, 0, 48, offset);
      const type = header.readUInt32BE(12);
      if (type === 0x20) break; // end of data
      if (type === 0x02 && currentFile === file && currentBlock === block) {
        const bogus = Buffer.alloc(8);
        bogus.writeBigUInt64BE(1n << 40n);
        await handle.write(bogus, 0, 8, offset + 32);
        return;
      }
      if (type === 0x40) {
        currentFile++;
        currentBlock = 0;
      } else if (type === 0x02) currentBlock++;
      offset = Number(header.readBigUInt64BE(40));
    }
    throw new Error(`${path} has no block ${block} in file ${file}`);
  } finally {
    await handle.close();
  }
}

test('an unreadable block is a medium error with the sense text, and reading goes on past it', { skip, ...TIMEOUT }, async () => {
  await withTape('BAD001L9', async (drive) => {
    await writeFiles(drive);
  });
  await damageBlock(lab.tgt.tapePath('BAD001L9'), 1, 4);
  await withTape('BAD001L9', async (drive) => {
    await drive.locate(1, 0);
    for (let block = 0; block < 4; block++) assertBlock(await drive.read(), 1, block);
    const error = await rejectsWith(drive.read(), 'corrupt-backup', /tape BAD001L9 in drive 1: .*MEDIUM ERROR/);
    assert.ok(error instanceof TapeMediumError);
    assert.equal(error.fault, 'medium');
    assert.deepEqual(drive.position(), { file: 1, block: 5 }, 'the host stands past the bad block');
    for (let block = 5; block < 9; block++) assertBlock(await drive.read(), 1, block);
    assert.equal((await drive.read()).kind, 'filemark');
    assertBlock(await drive.read(), 2, 0);
  });
});

test(
  "the engine's byte streams over the drive: a file written through blocks reads back from any offset",
  { skip, ...TIMEOUT },
  async () => {
    await withTape('STREAM1L9', async (drive) => {
      const files = [randomBytes(5 * BLOCK + 1234), randomBytes(3 * BLOCK - 7)];
      for (const bytes of files) {
        const writer = new BlockStreamWriter(drive);
        await writer.write(bytes.subarray(0, 1000));
        await writer.write(bytes.subarray(1000));
        await writer.close();
      }
      // As the tape pass does: locate to the block holding the offset, then read on from the byte.
      for (const [file, offset, length] of [
        [1, BLOCK + 17, BLOCK + 5],
        [0, 3 * BLOCK + 100, 2 * BLOCK],
        [1, 0, 3 * BLOCK - 7],
        [0, 1, 10],
      ] as const) {
        await drive.locate(file, Math.floor(offset / BLOCK));
        const reader = new BlockStreamReader(drive, offset);
        const got = await reader.take(length);
        assert.ok(
          got && Buffer.from(got).equals(files[file]?.subarray(offset, offset + length) ?? Buffer.alloc(0)),
          `file ${file} at ${offset}`,
        );
      }
    });
  },
);

test('a block of another size is refused naming both sizes; a cancelled read gives up its wait only', { skip, ...TIMEOUT }, async () => {
  await withTape('ODD001L9', async (drive) => {
    // Written by someone else with 1000-byte blocks.
    await writeBlock(drive.device, new Uint8Array(1000).fill(1));
    await writeFilemarks(drive.device, 1);
    await drive.rewind();
    await rejectsWith(drive.read(), 'corrupt-backup', /block 0 of file 0 is 1000 bytes; the tape's blocks are 32768/);
    await rejectsWith(drive.read(), 'corrupt-backup', /is 1000 bytes/);

    await drive.rewind();
    await drive.write(blockAt(0, 0));
    await drive.writeFilemarks(1);
    await drive.rewind();
    const cancelled = new AbortController();
    cancelled.abort();
    await rejectsWith(drive.read(cancelled.signal), 'cancelled', /cancelled/);
    assertBlock(await drive.read(), 0, 0);
    assert.equal((await drive.read()).kind, 'filemark');
  });
});
