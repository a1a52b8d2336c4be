// The restore data path of a block worker, called directly: runs of adjacent blocks are read,
// checked and written together, and the result is the point's disk byte for byte, holes left
// unwritten; a corrupt block anywhere in a run names its own index and writes nothing of the run.
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
import { restoreStripe, StripeError } from '../../electron/workers/restore-stripe.ts';

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
    const disk = layOut(
      dir,
      plan,
      capacity,
      plan.map((_, index) => index),
    );
    const target = join(dir, 'disk-flat.vmdk');
    emptyTarget(target, capacity);
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

test('a corrupt block in the middle of a run names its own index and writes nothing of that run', () => {
  withDir((dir) => {
    const count = 2 * STRIPE_RUN;
    const plan: BlockPlan[] = Array.from({ length: count }, () => ({ kind: 'data', file: 1, compressible: false }));
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
      () => restoreStripe(job),
      (error: unknown) => error instanceof StripeError && error.blockIndex === corrupt && /SHA-256/.test(error.message),
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
});

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
  });
  fc.assert(
    fc.property(layouts, ({ plan, shortBy, slots, shuffle }) => {
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
        for (let slot = 0; slot < slots; slot++) bytes += restoreStripe(task(disk, target, slot, slots)).bytes;
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
