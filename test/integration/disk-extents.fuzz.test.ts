// Disk.extents against read(), for random sparse layouts in every format qemu-img makes: a raw
// thin file, monolithicSparse, streamOptimized and monolithicFlat VMDKs, and snapshot chains
// (qemu-img create -b) over a sparse and over a flat base, with children that write data and
// zeroed grains. Extents must cover the range exactly, 'zero' must read as zeros, and a 64 KiB
// grain that nothing ever wrote must be found as 'zero' (the point: a thin disk is not read).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Disk, Extent } from '../../electron/disks/disk.ts';
import { openDisk } from '../../electron/disks/vmdk-chain.ts';
import { qemuImg, tempDir } from '../helpers/env.ts';

const KIB = 1024;
const GRAIN = 64 * KIB;
const CAPACITY = 8 * 1024 * KIB;

type Write = { offset: number; length: number; fill: number };

const writeArbitrary = fc
  .record({ offset: fc.nat(CAPACITY - 1), length: fc.integer({ min: 1, max: 200 * KIB }), fill: fc.integer({ min: 0, max: 255 }) })
  .map(({ offset, length, fill }) => ({ offset, length: Math.min(length, CAPACITY - offset), fill }));
const layoutArbitrary = fc.array(writeArbitrary, { maxLength: 12 });
/** qemu-img writes the first 4 KiB of a raw file it makes (allocate_first_block, so O_DIRECT
 * alignment can be probed): in a flat extent it converts to, that grain is data. */
const QEMU_FIRST_BLOCK = [{ offset: 0, length: 1, fill: 0 }];

/** The 64 KiB grains a layout touches. */
function touched(...layouts: Write[][]): Set<number> {
  const grains = new Set<number>();
  for (const { offset, length } of layouts.flat())
    for (let grain = Math.floor(offset / GRAIN); grain * GRAIN < offset + length; grain++) grains.add(grain);
  return grains;
}

async function writeRaw(path: string, layout: Write[]): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.truncate(CAPACITY);
    for (const { offset, length, fill } of layout) await handle.write(Buffer.alloc(length, fill), 0, length, offset);
  } finally {
    await handle.close();
  }
}

/** Writes to a VMDK through qemu; fill 0 becomes a zero write (a zeroed grain where it covers one). */
function writeVmdk(path: string, layout: Write[]): void {
  if (layout.length === 0) return;
  const commands = layout.flatMap(({ offset, length, fill }) => [
    '-c',
    fill === 0 ? `write -z ${offset} ${length}` : `write -P ${fill} ${offset} ${length}`,
  ]);
  execFileSync('qemu-io', ['-f', 'vmdk', ...commands, path], { stdio: 'ignore' });
}

/** The extents of [offset, offset + length): exact cover, merged, 'zero' reads as zeros. */
async function checkedExtents(disk: Disk, offset: number, length: number, expected: Buffer): Promise<Extent[]> {
  assert.ok(disk.extents, `${disk.description} says what it holds`);
  const extents = await disk.extents(offset, length);
  let position = offset;
  for (const [index, extent] of extents.entries()) {
    assert.equal(extent.offset, position, 'contiguous');
    assert.ok(extent.length > 0, 'not empty');
    if (index > 0) assert.notEqual(extent.state, extents[index - 1]?.state, 'merged');
    const read = await disk.read(extent.offset, extent.length);
    assert.ok(read.equals(expected.subarray(extent.offset, extent.offset + extent.length)), `${disk.description}: bytes at ${position}`);
    if (extent.state === 'zero')
      assert.ok(
        read.every((byte) => byte === 0),
        `${disk.description}: zero extent at ${position}`,
      );
    position += extent.length;
  }
  assert.equal(position, offset + length, 'covers the range');
  return extents;
}

/** Checks the whole disk and a sub-range; every grain nothing wrote must be 'zero'. */
async function checkDisk(path: string, expected: Buffer, written: Set<number>, range: [number, number]): Promise<void> {
  const disk = await openDisk(path);
  try {
    assert.equal(disk.capacity, CAPACITY);
    const extents = await checkedExtents(disk, 0, CAPACITY, expected);
    for (let grain = 0; grain < CAPACITY / GRAIN; grain++) {
      if (written.has(grain)) continue;
      const at = grain * GRAIN;
      const covering = extents.find((extent) => extent.offset <= at && at < extent.offset + extent.length);
      assert.ok(covering?.state === 'zero' && covering.offset + covering.length >= at + GRAIN, `${path}: grain ${grain} is a hole`);
    }
    const [from, span] = range;
    await checkedExtents(disk, from, Math.min(span, CAPACITY - from), expected);
    assert.deepEqual(await disk.extents?.(from, 0), []);
  } finally {
    await disk.close();
  }
}

test('extents agree with reads: raw, sparse, streamOptimized and flat VMDKs', async () => {
  const dir = await tempDir();
  await fc.assert(
    fc.asyncProperty(layoutArbitrary, fc.tuple(fc.nat(CAPACITY - 1), fc.nat(CAPACITY)), async (layout, range) => {
      const raw = join(dir, 'disk.raw');
      await writeRaw(raw, layout);
      const expected = await readFile(raw);
      const written = touched(layout);
      await checkDisk(raw, expected, written, range);
      for (const subformat of ['monolithicSparse', 'streamOptimized', 'monolithicFlat']) {
        const vmdk = join(dir, `${subformat}.vmdk`);
        qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', `subformat=${subformat}`, raw, vmdk);
        await checkDisk(vmdk, expected, subformat === 'monolithicFlat' ? touched(layout, QEMU_FIRST_BLOCK) : written, range);
        await rm(vmdk);
        await rm(join(dir, `${subformat}-flat.vmdk`), { force: true });
      }
    }),
    { numRuns: 8 },
  );
});

test('extents of snapshot chains: a parent run falls through, a child zeroed grain hides the parent', async () => {
  const dir = await tempDir();
  await fc.assert(
    fc.asyncProperty(
      layoutArbitrary,
      layoutArbitrary,
      fc.constantFrom('monolithicSparse', 'monolithicFlat'),
      fc.tuple(fc.nat(CAPACITY - 1), fc.nat(CAPACITY)),
      async (baseLayout, childLayout, baseFormat, range) => {
        const raw = join(dir, 'base.raw');
        await writeRaw(raw, baseLayout);
        const base = join(dir, 'base.vmdk');
        const child = join(dir, 'child.vmdk');
        qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', `subformat=${baseFormat}`, raw, base);
        qemuImg('create', '-q', '-f', 'vmdk', '-o', 'zeroed_grain=on', '-b', 'base.vmdk', '-F', 'vmdk', child);
        writeVmdk(child, childLayout);
        const flattened = join(dir, 'chain.raw');
        qemuImg('convert', '-f', 'vmdk', '-O', 'raw', child, flattened);
        await checkDisk(
          child,
          await readFile(flattened),
          touched(baseLayout, childLayout, baseFormat === 'monolithicFlat' ? QEMU_FIRST_BLOCK : []),
          range,
        );
        for (const file of [raw, base, child, flattened, join(dir, 'base-flat.vmdk')]) await rm(file, { force: true });
      },
    ),
    { numRuns: 12 },
  );
});

test('a child grain written as zeros hides its parent data: zero, not data', async () => {
  const dir = await tempDir();
  const raw = join(dir, 'base.raw');
  await writeRaw(raw, [{ offset: 0, length: 1024 * KIB, fill: 0x5a }]);
  qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicSparse', raw, join(dir, 'base.vmdk'));
  const child = join(dir, 'child.vmdk');
  qemuImg('create', '-q', '-f', 'vmdk', '-o', 'zeroed_grain=on', '-b', 'base.vmdk', '-F', 'vmdk', child);
  writeVmdk(child, [
    { offset: GRAIN, length: 2 * GRAIN, fill: 0 },
    { offset: 2048 * KIB, length: GRAIN, fill: 7 },
  ]);
  const disk = await openDisk(child);
  try {
    assert.deepEqual(await disk.extents?.(0, CAPACITY), [
      { offset: 0, length: GRAIN, state: 'data' },
      { offset: GRAIN, length: 2 * GRAIN, state: 'zero' },
      { offset: 3 * GRAIN, length: 1024 * KIB - 3 * GRAIN, state: 'data' },
      { offset: 1024 * KIB, length: 1024 * KIB, state: 'zero' },
      { offset: 2048 * KIB, length: GRAIN, state: 'data' },
      { offset: 2048 * KIB + GRAIN, length: CAPACITY - 2048 * KIB - GRAIN, state: 'zero' },
    ]);
  } finally {
    await disk.close();
  }
});
