// The restore data path of a block worker, called directly: runs of adjacent blocks are read,
// checked and written together, and the result is the point's disk byte for byte, holes left
// unwritten; a corrupt block anywhere in a run names its own index and writes nothing of the run.
// The same holds with the seek-data addon's io hints and zstd decoder and with their fallbacks.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { BlockKind, RECORD_BYTES, writeRecord } from '../../electron/repository/block-map.ts';
import { Codec, compressBlock } from '../../electron/repository/codec.ts';
import { STRIPE_RUN, type RestoreStripeTask } from '../../electron/workers/messages.ts';
import { restoreStripe, StripeError, type StripeCodecs } from '../../electron/workers/restore-stripe.ts';
import { ioHints } from '../../electron/workers/restore-io-hints.ts';
import { zstdInto } from '../../electron/workers/zstd-into.ts';
import { fileExtents, seekNative, type SeekNative } from '../../electron/disks/seek-data.ts';

const BLOCK = 4096;

/** What a block of the test disk holds: nothing (a hole), or bytes stored in data file `file`. */
type BlockPlan = { kind: 'hole' } | { kind: 'data'; file: number; compressible: boolean };

type Disk = {
  map: Uint8Array;
  dataFiles: [number, string][];
  expected: Buffer;
  capacity: number;
  stored: { offset: number; file: number }[];
};

/** Lays out a disk: each data block's bytes go to its data file in the order given by `storeOrder`
 * (so neighbours on the disk may or may not be neighbours in a file). */
function layOut(dir: string, plan: BlockPlan[], capacity: number, storeOrder: number[]): Disk {
  const map = new Uint8Array(plan.length * RECORD_BYTES);
  const expected = Buffer.alloc(capacity);
  const files = new Map<number, Buffer[]>();
  const sizes = new Map<number, number>();
  const stored: { offset: number; file: number }[] = [];
  for (const index of storeOrder) {
    const block = plan[index] as BlockPlan;
    if (block.kind === 'hole') continue;
    const length = Math.min(BLOCK, capacity - index * BLOCK);
    const raw = block.compressible ? Buffer.alloc(length, `block ${index} `) : randomBytes(length);
    raw.copy(expected, index * BLOCK);
    const { codec, payload } = compressBlock(raw, block.compressible ? Codec.zstd : Codec.none);
    const offset = sizes.get(block.file) ?? 0;
    files.set(block.file, [...(files.get(block.file) ?? []), Buffer.from(payload)]);
    sizes.set(block.file, offset + payload.length);
    stored[index] = { offset, file: block.file };
    writeRecord(map, index * RECORD_BYTES, {
      index,
      kind: BlockKind.data,
      codec,
      dataFile: block.file,
      offset,
      storedLength: payload.length,
      rawLength: length,
      sha256: createHash('sha256').update(raw).digest(),
    });
  }
  const dataFiles: [number, string][] = [...files].map(([file, parts]) => {
    const path = join(dir, `data-${file}.lbd`);
    writeFileSync(path, Buffer.concat(parts));
    return [file, path];
  });
  return { map, dataFiles, expected, capacity, stored };
}

function emptyTarget(path: string, capacity: number): void {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, capacity);
  closeSync(fd);
}

function task(disk: Disk, targetPath: string, slot = 0, slots = 1): RestoreStripeTask {
  return {
    type: 'restore-stripe',
    map: disk.map,
    blockSize: BLOCK,
    capacity: disk.capacity,
    dataFiles: disk.dataFiles,
    dataKey: null,
    targetPath,
    slot,
    slots,
    control: new Int32Array(new SharedArrayBuffer(4)),
    progress: new Float64Array(new SharedArrayBuffer(8 * slots)),
    watermarks: new Int32Array(new SharedArrayBuffer(4 * slots)),
  };
}

/** The addon's hints and decoder, and the fallbacks a machine without it restores with. */
const withAddon: StripeCodecs = { hints: ioHints(), zstd: zstdInto() };
const withoutAddon: StripeCodecs = { hints: ioHints('no addon in this test'), zstd: zstdInto('no addon in this test') };

/** The plan's blocks stored in disk order, and an empty target the size of the disk. */
function inDiskOrder(dir: string, plan: BlockPlan[], capacity: number): { disk: Disk; target: string } {
  const disk = layOut(
    dir,
    plan,
    capacity,
    plan.map((_, index) => index),
  );
  const target = join(dir, 'disk-flat.vmdk');
  emptyTarget(target, capacity);
  return { disk, target };
}

function withDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-stripe-'));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('holes between data, a short last block and blocks from several data files restore byte for byte, holes unwritten', () => {
  withDir((dir) => {
    // 3 runs: data, hole, data from another file, a stretch of holes, a short block at the end.
    const count = 3 * STRIPE_RUN;
    const plan: BlockPlan[] = Array.from({ length: count }, (_, index) =>
      index % 5 === 2 || (index >= 10 && index < 18)
        ? { kind: 'hole' }
        : { kind: 'data', file: 1 + (index % 3 === 0 ? 1 : 0), compressible: index % 2 === 0 },
    );
    const capacity = count * BLOCK - 1000;
    const { disk, target } = inDiskOrder(dir, plan, capacity);
    const job = task(disk, target);
    const result = restoreStripe(job);
    const dataBlocks = plan.filter((block) => block.kind === 'data').length;
    assert.equal(result.blocks, dataBlocks);
    assert.equal(result.bytes, (dataBlocks - 1) * BLOCK + (BLOCK - 1000));
    assert.deepEqual(readFileSync(target), disk.expected);
    assert.equal(job.watermarks?.[0], count);
    // Blocks 10-17 (a whole run of holes) were never written: the file holds fewer blocks than its size.
    assert.ok(statSync(target).blocks * 512 <= capacity - 8 * BLOCK, 'the holes were written');
  });
});

for (const [name, codecs, compressible] of [
  ['stored as is', withAddon, false],
  ['zstd, decoded by the addon', withAddon, true],
  ['zstd, decoded by node:zlib', withoutAddon, true],
] as const)
  test(`a corrupt block (${name}) in the middle of a run names its own index and writes nothing of that run`, () => {
    corruptBlockInRun(codecs, compressible);
  });

function corruptBlockInRun(codecs: StripeCodecs, compressible: boolean): void {
  withDir((dir) => {
    const count = 2 * STRIPE_RUN;
    const plan: BlockPlan[] = Array.from({ length: count }, () => ({ kind: 'data', file: 1, compressible }));
    const disk = layOut(
      dir,
      plan,
      count * BLOCK,
      plan.map((_, index) => index),
    );
    const corrupt = STRIPE_RUN + 3;
    const [, path] = disk.dataFiles[0] as [number, string];
    const bytes = readFileSync(path);
    const at = (disk.stored[corrupt]?.offset as number) + 17;
    bytes[at] = (bytes[at] as number) ^ 0xff;
    writeFileSync(path, bytes);
    const target = join(dir, 'disk-flat.vmdk');
    emptyTarget(target, count * BLOCK);
    const job = task(disk, target);
    assert.throws(
      () => restoreStripe(job, codecs),
      (error: unknown) => error instanceof StripeError && error.blockIndex === corrupt && /SHA-256|does not decompress/.test(error.message),
    );
    const written = readFileSync(target);
    assert.deepEqual(written.subarray(0, STRIPE_RUN * BLOCK), disk.expected.subarray(0, STRIPE_RUN * BLOCK));
    assert.ok(
      written.subarray(STRIPE_RUN * BLOCK).every((byte) => byte === 0),
      'part of the failed run was written',
    );
    assert.equal(job.watermarks?.[0], STRIPE_RUN, 'the watermark moved past a run that was not written');
    assert.equal(Atomics.load(job.control, 0), 2, 'the other stripes were not told to stop');
  });
}

test('any layout, stored in any order, striped over any number of workers, restores byte for byte', () => {
  const layouts = fc.record({
    plan: fc.array(
      fc.oneof(
        fc.constant<BlockPlan>({ kind: 'hole' }),
        fc.record({ kind: fc.constant('data' as const), file: fc.integer({ min: 1, max: 3 }), compressible: fc.boolean() }),
      ),
      { minLength: 1, maxLength: 4 * STRIPE_RUN },
    ),
    shortBy: fc.integer({ min: 0, max: BLOCK - 1 }),
    slots: fc.integer({ min: 1, max: 3 }),
    shuffle: fc.array(fc.nat(), { maxLength: 4 * STRIPE_RUN }),
    codecs: fc.constantFrom(withAddon, withoutAddon),
  });
  fc.assert(
    fc.property(layouts, ({ plan, shortBy, slots, shuffle, codecs }) => {
      withDir((dir) => {
        const capacity = plan.length * BLOCK - shortBy;
        const order = plan.map((_, index) => index);
        shuffle.forEach((value, at) => {
          const from = at % order.length;
          const to = value % order.length;
          [order[from], order[to]] = [order[to] as number, order[from] as number];
        });
        const disk = layOut(dir, plan, capacity, order);
        const target = join(dir, 'disk-flat.vmdk');
        emptyTarget(target, capacity);
        let bytes = 0;
        for (let slot = 0; slot < slots; slot++) bytes += restoreStripe(task(disk, target, slot, slots), codecs).bytes;
        assert.equal(bytes, countData(plan, capacity));
        assert.deepEqual(readFileSync(target), disk.expected);
      });
    }),
    { numRuns: 60 },
  );
});

function countData(plan: BlockPlan[], capacity: number): number {
  return plan.reduce((sum, block, index) => sum + (block.kind === 'data' ? Math.min(BLOCK, capacity - index * BLOCK) : 0), 0);
}

/** A plan of several runs: compressible and incompressible data from two files, holes between. */
function mixedPlan(runs: number): BlockPlan[] {
  return Array.from({ length: runs * STRIPE_RUN }, (_, index) =>
    index % 7 === 3 || (index >= 2 * STRIPE_RUN && index < 3 * STRIPE_RUN)
      ? { kind: 'hole' }
      : { kind: 'data', file: 1 + (index % 4 === 0 ? 1 : 0), compressible: index % 3 !== 0 },
  );
}

/** A mixed plan of `runs` runs laid out in disk order, and an empty target for it. */
function mixedDisk(dir: string, runs: number): { plan: BlockPlan[]; capacity: number; disk: Disk; target: string } {
  const plan = mixedPlan(runs);
  const capacity = plan.length * BLOCK;
  return { plan, capacity, ...inDiskOrder(dir, plan, capacity) };
}

/** [start, end) byte ranges of the plan's data blocks, neighbours merged. */
function dataRanges(plan: BlockPlan[], capacity: number): [number, number][] {
  const ranges: [number, number][] = [];
  plan.forEach((block, index) => {
    if (block.kind !== 'data') return;
    const start = index * BLOCK;
    const end = Math.min(capacity, start + BLOCK);
    const last = ranges.at(-1);
    if (last && last[1] === start) last[1] = end;
    else ranges.push([start, end]);
  });
  return ranges;
}

for (const [name, codecs] of [
  ['with the addon', withAddon],
  ['without it', withoutAddon],
] as const)
  test(`restored ${name}, the file holds data exactly where the point has data (SEEK_DATA): holes stay holes`, () => {
    assert.equal(typeof seekNative(), 'object', 'the seek-data addon is built');
    withDir((dir) => {
      const { plan, capacity, disk, target } = mixedDisk(dir, 5);
      for (let slot = 0; slot < 2; slot++) restoreStripe(task(disk, target, slot, 2), codecs);
      assert.deepEqual(readFileSync(target), disk.expected);
      const fd = openSync(target, 'r');
      try {
        const data = fileExtents(fd, 0, capacity).filter((extent) => extent.state === 'data');
        assert.deepEqual(
          data.map((extent) => [extent.offset, extent.offset + extent.length]),
          dataRanges(plan, capacity),
        );
      } finally {
        closeSync(fd);
      }
    });
  });

test("the io hints ask for each stripe's next run ahead and write back each written run; a failing hint is dropped, the restore goes on", () => {
  withDir((dir) => {
    const { plan, capacity, disk, target } = mixedDisk(dir, 6);
    const calls = { willNeed: [] as [number, number][], startWriteback: [] as [number, number][] };
    let writebacks = 0;
    const native = seekNative() as SeekNative;
    const spy: SeekNative = {
      seek: (fd, offset, whence) => native.seek(fd, offset, whence),
      willNeed: (_fd, offset, length) => void calls.willNeed.push([offset, offset + length]),
      startWriteback: (_fd, offset, length) => {
        calls.startWriteback.push([offset, offset + length]);
        // The second one fails as a file system that cannot do it would: no more are given.
        if (++writebacks === 2) throw Object.assign(new Error('sync_file_range: Invalid argument'), { errno: 22 });
      },
    };
    const slots = 2;
    const hints = ioHints(spy);
    for (let slot = 0; slot < slots; slot++) restoreStripe(task(disk, target, slot, slots), { hints, zstd: null });
    assert.deepEqual(readFileSync(target), disk.expected);
    // Stripe 0 writes back its runs with data (run 2 is all holes and gets none): run 0, then run 4,
    // which fails; stripe 1 gives none after that.
    assert.deepEqual(calls.startWriteback, [
      [0, STRIPE_RUN * BLOCK],
      [4 * STRIPE_RUN * BLOCK, 5 * STRIPE_RUN * BLOCK],
    ]);
    // Every data block of a run that is not its stripe's first was asked for ahead, in its data file.
    plan.forEach((block, index) => {
      if (block.kind !== 'data' || Math.floor(index / STRIPE_RUN) < slots) return;
      const stored = disk.stored[index] as { offset: number; file: number };
      const length = Math.min(BLOCK, capacity - index * BLOCK);
      assert.ok(
        calls.willNeed.some(([start, end]) => start <= stored.offset && stored.offset < end),
        `block ${index} (stored at ${stored.offset}, about ${length} bytes) was not read ahead`,
      );
    });
  });
});
