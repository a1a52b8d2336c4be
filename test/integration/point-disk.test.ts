// Reading a restore point's disk without restoring it: any range equals the source as it was at
// that point, streaming (runs decoded by the block workers into a reused ring) yields the whole
// disk whatever order its pieces are given back in, and a corrupt block is named.
import assert from 'node:assert/strict';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { resolvePoint } from '../../electron/repository/chain.ts';
import type { Disk } from '../../electron/disks/disk.ts';
import { PointDisk } from '../../electron/repository/point-disk.ts';
import { pointDiskReader } from '../../electron/restore/vm-source.ts';
import { WorkerPool } from '../../electron/workers/pool.ts';
import { changeRaw, makeVmFolder, openEngine, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

/** The disk streamed whole, each piece copied as it comes; pieces are given back three at a time,
 * the last first, so the ring is reused out of order while pieces are still held. */
async function streamed(disk: Disk): Promise<Buffer> {
  const copies: Buffer[] = [];
  const held: (() => void)[] = [];
  for await (const { bytes, release } of disk.stream?.() ?? []) {
    copies.push(Buffer.from(bytes));
    if (release) held.push(release);
    if (held.length === 3) for (const giveBack of held.splice(0).reverse()) giveBack();
  }
  for (const giveBack of held) giveBack();
  return Buffer.concat(copies);
}

test('random-access reads and streaming of every point match the source at that point', async (t) => {
  const pool = new WorkerPool(2);
  t.after(() => pool.close());
  const dir = await tempDir();
  const engine = await openEngine(join(dir, 'home'), 64 * 1024);
  const source = join(dir, 'source');
  await mkdir(source);
  const raw = join(dir, 'disk.raw');
  await writeMixedRaw(raw, 6);
  const states: Buffer[] = [];
  for (let generation = 1; generation <= 2; generation++) {
    if (generation > 1) await changeRaw(raw, generation);
    await makeVmFolder(source, 'delta', raw, 'monolithicSparse');
    states.push(await readFile(raw));
    assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  }
  const vmId = engine.lookup.resolveVm('delta').id;
  for (const manifest of await engine.repository.listPoints(vmId)) {
    const expected = states[manifest.sequence - 1] as Buffer;
    const point = await resolvePoint(engine.repository, vmId, manifest.id);
    const disk = new PointDisk(point, 'scsi0:0', { cacheBlocks: 4 });
    try {
      await fc.assert(
        fc.asyncProperty(fc.nat(expected.length - 1), fc.nat(300_000), async (offset, wanted) => {
          const length = Math.min(wanted, expected.length - offset);
          assert.ok((await disk.read(offset, length)).equals(expected.subarray(offset, offset + length)));
        }),
        { numRuns: 80 },
      );
      assert.ok((await streamed(pointDiskReader(point, 'scsi0:0', pool))).equals(expected));
      await assert.rejects(disk.read(expected.length - 10, 11), RangeError);
    } finally {
      await disk.close();
    }
  }
  const [first] = await engine.repository.listPoints(vmId);
  assert.ok(first);
  const data = join(engine.repository.pointFolder(first), 'data.lbd');
  const handle = await open(data, 'r+');
  await handle.write(Buffer.from('garbage!'), 0, 8, 40);
  await handle.close();
  const damagedPoint = await resolvePoint(engine.repository, vmId, first.id);
  const damaged = new PointDisk(damagedPoint, 'scsi0:0');
  try {
    const corrupt = { code: 'corrupt-backup', message: /delta point 1 disk scsi0:0, offset \d+: corrupt block/ };
    await assert.rejects(damaged.read(0, damaged.capacity), corrupt);
    await assert.rejects(streamed(pointDiskReader(damagedPoint, 'scsi0:0', pool)), corrupt);
  } finally {
    await damaged.close();
  }
});
