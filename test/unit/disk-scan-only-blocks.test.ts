// A backup pass told which blocks changed (the hypervisor's changed block tracking): the others
// are not read and keep the parent's records and fast hashes. The point it makes reads back
// (through the restore's PointDisk) identical to the disk, its sidecar is the one a full read
// would have written, and the next pass without a mask finds only what really changed. A mask
// that cannot be trusted to stand on the parent is ignored, and the result says why.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BlockStore, type BackupStats, type StoredBlock } from '../../electron/backup/block-store.ts';
import { scanDisk, type DiskScanResult } from '../../electron/backup/disk-scan.ts';
import type { Disk } from '../../electron/disks/disk.ts';
import { RawDisk } from '../../electron/disks/raw-disk.ts';
import { BlockKind, readRecord, RECORD_BYTES, writeRecord, type BlockRecord } from '../../electron/repository/block-map.ts';
import { blockCountOf, type ResolvedDisk, type ResolvedPoint } from '../../electron/repository/chain.ts';
import { hashesOf } from '../../electron/repository/fast-hash-map.ts';
import { POINT_FORMAT, POINT_FORMAT_VERSION } from '../../electron/repository/manifest.ts';
import { PointDisk } from '../../electron/repository/point-disk.ts';
import { WorkerPool } from '../../electron/workers/pool.ts';
import { changeRaw, qemuImg, tempDir, writeMixedRaw } from '../helpers/env.ts';

const MIB = 1024 * 1024;
const DISK_MIB = 16;
const KEY = 'scsi0:0';

const pool = new WorkerPool(2);
after(() => pool.close());
const folder = await tempDir('lifeboat-only-blocks-');
const raw = join(folder, 'disk.raw');
const dataFiles = new Map<number, string>();
let passes = 0;

type Pass = DiskScanResult & { stats: BackupStats; readBytes: number; progress: number[] };

/** The raw file as a Disk, counting the bytes read from it. */
async function countingDisk(): Promise<Disk & { readBytes: number }> {
  const disk = await RawDisk.open(raw);
  const counted = {
    capacity: disk.capacity,
    description: disk.description,
    readBytes: 0,
    read: async (offset: number, length: number): Promise<Buffer> => {
      counted.readBytes += length;
      return disk.read(offset, length);
    },
    extents: disk.extents.bind(disk),
    close: () => disk.close(),
  };
  return counted;
}

/** One backup pass of the raw file as point `sequence`, storing into its own data file. */
async function pass(
  sequence: number,
  previous: ResolvedDisk | null,
  parentFastHashes: Uint8Array | null,
  onlyBlocks: Uint8Array | null,
): Promise<Pass> {
  const stats: BackupStats = { scannedBytes: 0, changedBytes: 0, storedBytes: 0, dedupedBlocks: 0 };
  const path = join(folder, `pass-${++passes}.lbd`);
  const data = await open(path, 'wx');
  const disk = await countingDisk();
  const known = new Map<string, StoredBlock>();
  for (let index = 0; previous && index < previous.blockCount; index++) {
    const { kind, codec, dataFile, offset, storedLength, rawLength, sha256 } = readRecord(previous.map, index * RECORD_BYTES);
    if (kind === BlockKind.data)
      known.set(Buffer.from(sha256).toString('hex'), { codec, dataFile, offset, storedLength, rawLength, sha256 });
  }
  const progress: number[] = [];
  try {
    const store = new BlockStore(known, data, sequence, pool, null, stats);
    const result = await scanDisk({
      disk,
      blockSize: MIB,
      blockCount: blockCountOf(disk.capacity, MIB),
      previous,
      parentFastHashes,
      onlyBlocks,
      store,
      pool,
      stats,
      signal: new AbortController().signal,
      progress: (done) => progress.push(done),
    });
    dataFiles.set(sequence, path);
    return { ...result, records: result.records.sort((a, b) => a.index - b.index), stats, readBytes: disk.readBytes, progress };
  } finally {
    await data.close();
    await disk.close();
  }
}

/** The parent's merged map with a point's records applied, as resolving a chain does. */
function merged(previous: ResolvedDisk | null, records: BlockRecord[]): ResolvedDisk {
  const blockCount = DISK_MIB;
  const map = new Uint8Array(new SharedArrayBuffer(blockCount * RECORD_BYTES));
  if (previous) map.set(previous.map);
  for (const record of records) writeRecord(map, record.index * RECORD_BYTES, record);
  return { key: KEY, fileName: 'disk.vmdk', capacity: DISK_MIB * MIB, blockCount, map };
}

/** Reads point `sequence` back through the restore's PointDisk into a raw file. */
async function restored(sequence: number, disk: ResolvedDisk): Promise<string> {
  const point: ResolvedPoint = {
    point: {
      format: POINT_FORMAT,
      version: POINT_FORMAT_VERSION,
      id: `point-${sequence}`,
      vmId: 'cbt',
      vmName: 'cbt',
      sequence,
      kind: sequence === 1 ? 'full' : 'incremental',
      parentId: sequence === 1 ? null : `point-${sequence - 1}`,
      createdAt: new Date(0).toISOString(),
      blockSize: MIB,
      vmConfig: { fileName: 'cbt.vmx', text: '' },
      disks: [],
      dataFile: { name: 'data.lbd', size: 0 },
      stats: { scannedBytes: 0, changedBytes: 0, storedBytes: 0, dedupedBlocks: 0 },
    },
    chain: [],
    blockSize: MIB,
    dataFiles,
    disks: [disk],
    dataKey: null,
  };
  const reader = new PointDisk(point, KEY);
  const path = join(folder, `restored-${sequence}.raw`);
  try {
    await writeFile(path, await reader.read(0, reader.capacity));
  } finally {
    await reader.close();
  }
  return path;
}

function maskOf(blocks: number[]): Uint8Array {
  const mask = new Uint8Array(DISK_MIB);
  for (const block of blocks) mask[block] = 1;
  return mask;
}

test('a masked incremental reads only the blocks it is told changed, restores identical, and the next one finds only real changes', async () => {
  await writeMixedRaw(raw, DISK_MIB, 3);
  const full = await pass(1, null, null, null);
  const point1 = merged(null, full.records);

  // The guest writes inside block 3, empties block 5 and rewrites block 9 with the bytes it held.
  await changeRaw(raw, 0);
  const file = await open(raw, 'r+');
  const block9 = Buffer.alloc(MIB);
  await file.read(block9, 0, MIB, 9 * MIB);
  await file.write(block9, 0, MIB, 9 * MIB);
  await file.close();
  const atPoint2 = join(folder, 'at-point-2.raw');
  await copyFile(raw, atPoint2);

  const masked = await pass(2, point1, hashesOf(full.fastHashFile), maskOf([3, 5, 9]));
  assert.equal(masked.maskIgnored, null);
  assert.equal(masked.unchangedBlocks, DISK_MIB - 3);
  assert.equal(masked.readBytes, 3 * MIB, 'only the three blocks the mask names are read');
  assert.deepEqual(
    masked.records.map((record) => `${record.index} ${record.kind === BlockKind.hole ? 'hole' : 'data'}`),
    ['3 data', '5 hole'],
    'block 9 was written but holds what it held: no record',
  );
  assert.equal(masked.stats.scannedBytes, 3 * MIB, 'blocks the mask skips are not scanned');
  assert.equal(masked.progress.at(-1), DISK_MIB * MIB, 'but count as done');

  const point2 = merged(point1, masked.records);
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'raw', atPoint2, await restored(2, point2)), /identical/);

  // Its sidecar is the one a pass reading every block writes (so later passes compare right).
  const unmasked = await pass(99, point1, hashesOf(full.fastHashFile), null);
  assert.ok(masked.fastHashFile.equals(unmasked.fastHashFile));

  // The next incremental, with no mask: only the block that changed since.
  const file2 = await open(raw, 'r+');
  await file2.write(randomBytes(4096), 0, 4096, 12 * MIB + 8192);
  await file2.close();
  const next = await pass(3, point2, hashesOf(masked.fastHashFile), null);
  assert.deepEqual(
    next.records.map((record) => record.index),
    [12],
  );
  assert.equal(next.stats.changedBytes, MIB);
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'raw', raw, await restored(3, merged(point2, next.records))), /identical/);
});

test('a mask without a parent to stand on is ignored: every block is read, and the result says why', async () => {
  await writeMixedRaw(raw, DISK_MIB, 5);
  const full = await pass(1, null, null, null);
  const point1 = merged(null, full.records);
  const everything = full.readBytes;
  const cases: [string, ResolvedDisk | null, Uint8Array | null, Uint8Array, RegExp][] = [
    ['no parent', null, null, maskOf([]), /the parent point does not hold this disk/],
    ['no fast hashes', point1, null, maskOf([]), /no usable fast hashes/],
    ['a mask of another size', point1, hashesOf(full.fastHashFile), new Uint8Array(DISK_MIB - 1), /mask has 15 blocks, the disk 16/],
    [
      'a parent of another size',
      { ...point1, capacity: (DISK_MIB - 1) * MIB, blockCount: DISK_MIB - 1 },
      hashesOf(full.fastHashFile),
      maskOf([]),
      /changed size since the parent point/,
    ],
  ];
  for (const [what, previous, hashes, mask, why] of cases) {
    const result = await pass(2, previous, hashes, mask);
    assert.match(result.maskIgnored ?? '', why, what);
    assert.equal(result.unchangedBlocks, 0, what);
    assert.equal(result.readBytes, everything, `${what}: every block is read`);
  }
  const none = await pass(2, point1, hashesOf(full.fastHashFile), null);
  assert.equal(none.maskIgnored, null, 'no mask given: nothing to ignore');
});
