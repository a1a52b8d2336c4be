// Reading a listing's metadata blocks in runs (block-runs.ts): every block asked for comes back
// with the bytes a read of it alone gives, runs stay bounded, and a run that cannot be read only
// leaves its blocks to be read one by one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { readBlockRuns } from '../../electron/filesystems/block-runs.ts';

const BLOCK = 512;

/** A volume whose block n holds n in every 4-byte word; the reads made are recorded. */
function volume(blocks: number, fails: (first: number, count: number) => Error | null = () => null) {
  const reads: { first: number; count: number }[] = [];
  const read = async (first: number, count: number): Promise<Buffer> => {
    reads.push({ first, count });
    const failure = fails(first, count);
    if (failure) throw failure;
    if (first < 0 || first + count > blocks) throw new RangeError(`blocks ${first}+${count} are outside the volume`);
    const bytes = Buffer.alloc(count * BLOCK);
    for (let at = 0; at < bytes.length; at += 4) bytes.writeUInt32LE(first + Math.floor(at / BLOCK), at);
    return bytes;
  };
  return { read, reads };
}

test('every block asked for holds its own bytes; neighbours share one read, far ones do not', async () => {
  const { read, reads } = volume(10_000);
  const held = await readBlockRuns([7, 3, 4, 5, 5, 9000, 6, 12], BLOCK, read);
  assert.deepEqual(
    [...held.keys()].sort((a, b) => a - b),
    [3, 4, 5, 6, 7, 12, 9000],
  );
  for (const [number, bytes] of held) {
    assert.equal(bytes.length, BLOCK);
    assert.equal(bytes.readUInt32LE(0), number);
    assert.equal(bytes.readUInt32LE(BLOCK - 4), number);
  }
  assert.deepEqual(reads, [
    { first: 3, count: 10 },
    { first: 9000, count: 1 },
  ]);
});

test('a run that cannot be read leaves its blocks out and the others are read; a defect is not hidden', async () => {
  const damaged = volume(100, (first) => (first === 50 ? new LifeboatError('corrupt-backup', 'a damaged block') : null));
  const held = await readBlockRuns([1, 2, 50, 51, 99, 120], BLOCK, damaged.read);
  // 50 and 51 (one damaged run) and 120 (outside the volume) are left out; 99 is a run of its own.
  assert.deepEqual(
    [...held.keys()].sort((a, b) => a - b),
    [1, 2, 99],
  );
  const defect = volume(100, () => new TypeError('a bug of ours'));
  await assert.rejects(readBlockRuns([1], BLOCK, defect.read), TypeError);
});

test('property: any set of blocks comes back whole and right, each read at most 1 MiB', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 300 }), async (numbers) => {
      const { read, reads } = volume(20_001);
      const held = await readBlockRuns(numbers, BLOCK, read);
      assert.deepEqual(
        [...held.keys()].sort((a, b) => a - b),
        [...new Set(numbers)].sort((a, b) => a - b),
      );
      for (const [number, bytes] of held) assert.equal(bytes.readUInt32LE(BLOCK / 2), number);
      assert.ok(reads.every((one) => one.count * BLOCK <= 1024 * 1024));
    }),
    { numRuns: 200 },
  );
});
