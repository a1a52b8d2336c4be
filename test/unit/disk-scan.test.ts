// A backup's pass over a disk reads only what its source does not know to be zero: a thin 64 GiB
// disk holding a few MiB is read for those MiB, holes count as scanned, and a block that was data
// in the parent and now lies in a hole is recorded as a hole.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Disk, Extent } from '../../electron/disks/disk.ts';
import { BlockStore, type BackupStats } from '../../electron/backup/block-store.ts';
import { scanDisk } from '../../electron/backup/disk-scan.ts';
import { BlockKind, RECORD_BYTES, writeRecord } from '../../electron/repository/block-map.ts';
import { blockCountOf, type ResolvedDisk } from '../../electron/repository/chain.ts';
import { WorkerPool } from '../../electron/workers/pool.ts';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** A thin disk: `data` ranges hold a byte pattern, the rest is a hole it reports as 'zero'. */
function thinDisk(capacity: number, data: { offset: number; length: number }[]): Disk & { readBytes: number } {
  const byteAt = (position: number): number => (position * 31 + 7) % 251;
  const disk = {
    capacity,
    description: 'thin test disk',
    readBytes: 0,
    async read(offset: number, length: number): Promise<Buffer> {
      disk.readBytes += length;
      const out = Buffer.alloc(length);
      for (const range of data) {
        const from = Math.max(offset, range.offset);
        const to = Math.min(offset + length, range.offset + range.length);
        for (let position = from; position < to; position++) out[position - offset] = byteAt(position);
      }
      return out;
    },
    async extents(offset: number, length: number): Promise<Extent[]> {
      const extents: Extent[] = [];
      let at = offset;
      for (const range of data) {
        const from = Math.max(at, range.offset);
        const to = Math.min(offset + length, range.offset + range.length);
        if (to <= from) continue;
        if (from > at) extents.push({ offset: at, length: from - at, state: 'zero' });
        extents.push({ offset: from, length: to - from, state: 'data' });
        at = to;
      }
      if (at < offset + length) extents.push({ offset: at, length: offset + length - at, state: 'zero' });
      return extents;
    },
    async close(): Promise<void> {},
  };
  return disk;
}

const pool = new WorkerPool(2);
const folder = await mkdtemp(join(tmpdir(), 'lifeboat-disk-scan-'));
after(async () => {
  await pool.close();
  await rm(folder, { recursive: true, force: true });
});

async function scan(disk: Disk, previous: ResolvedDisk | null, name: string) {
  const stats: BackupStats = { scannedBytes: 0, changedBytes: 0, storedBytes: 0, dedupedBlocks: 0 };
  const data = await open(join(folder, name), 'wx');
  const progress: number[] = [];
  try {
    const store = new BlockStore(new Map(), data, 2, pool, null, stats);
    const blockCount = blockCountOf(disk.capacity, MIB);
    const result = await scanDisk({
      disk,
      blockSize: MIB,
      blockCount,
      previous,
      parentFastHashes: null,
      store,
      pool,
      stats,
      signal: new AbortController().signal,
      progress: (done) => progress.push(done),
    });
    // Pieces finish in any order; the map file sorts them.
    return { ...result, records: result.records.sort((a, b) => a.index - b.index), stats, progress };
  } finally {
    await data.close();
  }
}

test('a 64 GiB thin disk holding 3 MiB is read for its allocated blocks only', async () => {
  // One whole block at 1 GiB; a range over two blocks at 40 GiB (partly allocated blocks are read).
  const disk = thinDisk(64 * GIB, [
    { offset: GIB, length: MIB },
    { offset: 40 * GIB + MIB / 2, length: MIB },
  ]);
  const { records, stats, progress, fastHashFile } = await scan(disk, null, 'full.lbd');
  assert.equal(disk.readBytes, 3 * MIB);
  assert.deepEqual(
    records.map((record) => record.index),
    [1024, 40 * 1024, 40 * 1024 + 1],
  );
  const block = await disk.read(GIB, MIB);
  assert.ok(Buffer.from(records.find((entry) => entry.index === 1024)?.sha256 ?? []).equals(createHash('sha256').update(block).digest()));
  assert.equal(stats.scannedBytes, 64 * GIB);
  assert.equal(progress.at(-1), 64 * GIB, 'holes count as scanned');
  assert.equal(fastHashFile.length, 24 + 64 * 1024 * 16, 'the sidecar covers every block');
});

test('a block that was data in the parent and lies in a hole now is recorded as a hole, without being read', async () => {
  const capacity = 8 * MIB;
  const map = new Uint8Array(blockCountOf(capacity, MIB) * RECORD_BYTES);
  const record = {
    kind: BlockKind.data,
    codec: 0,
    dataFile: 1,
    offset: 0,
    storedLength: MIB,
    rawLength: MIB,
    sha256: new Uint8Array(32).fill(9),
  };
  writeRecord(map, 3 * RECORD_BYTES, { ...record, index: 3 });
  const previous: ResolvedDisk = { key: 'scsi0:0', fileName: 'a.vmdk', capacity, blockCount: 8, map };
  const disk = thinDisk(capacity, [{ offset: 6 * MIB, length: MIB }]);
  const { records, stats } = await scan(disk, previous, 'incremental.lbd');
  assert.equal(disk.readBytes, MIB);
  assert.deepEqual(
    records.map((entry) => `${entry.index} ${entry.kind === BlockKind.hole ? 'hole' : 'data'}`),
    ['3 hole', '6 data'],
  );
  assert.equal(stats.changedBytes, 2 * MIB);
});
