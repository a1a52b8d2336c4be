// The repository side of a mover task: the stored blocks of a real backup (plain and encrypted),
// fed from any watermark, holes skipped, still compressed, unsealed; decompressed and placed at
// their offsets they make the disk again. A damaged data file is a corrupt-backup sentence that
// names the disk and the offset, never a wrong block.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { feedBlocks, rawBytesBelow } from '../../electron/movers/block-feed.ts';
import { decompressBlock } from '../../electron/repository/codec.ts';
import { resolvePoint, type ResolvedPoint } from '../../electron/repository/chain.ts';
import { makeVmFolder, openEngine, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const PASSWORD = 'correct horse battery staple';
const dir = await tempDir();
const engine = await openEngine(join(dir, 'home'), 256 * 1024);
const api = inProcessApi(engine);

async function backedUp(vm: string, encrypt: boolean): Promise<{ raw: string; point: ResolvedPoint }> {
  const folder = join(dir, vm);
  await mkdir(folder);
  const raw = join(dir, `${vm}.raw`);
  await writeMixedRaw(raw, 6, 3);
  await makeVmFolder(folder, vm, raw, 'monolithicFlat');
  const request = encrypt ? { encrypt: true, password: PASSWORD } : {};
  const job = await runJob(engine, (await api.invoke('backup.start', { source: { kind: 'local', path: folder }, ...request })).job);
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const [listed] = await api.invoke('points.list', { vm });
  assert.ok(listed);
  if (listed.keyId) await api.invoke('keys.remember', { keyId: listed.keyId, password: PASSWORD });
  const vmId = engine.lookup.resolveVm(vm).id;
  return { raw, point: await resolvePoint(engine.repository, vmId, listed.id) };
}

/** The disk made again from the fed blocks (from `from` on), compared with the source's bytes. */
async function replay(point: ResolvedPoint, raw: string, from: number): Promise<void> {
  const disk = point.disks[0];
  assert.ok(disk);
  const source = await readFile(raw);
  const seen: number[] = [];
  for await (const block of feedBlocks(point, disk, from, () => undefined)) {
    assert.ok(block.index >= from);
    seen.push(block.index);
    const bytes = decompressBlock(block.payload, block.codec, block.rawLength);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), block.sha256);
    assert.ok(Buffer.from(bytes).equals(source.subarray(block.index * point.blockSize, block.index * point.blockSize + block.rawLength)));
  }
  assert.deepEqual(
    seen,
    [...seen].sort((a, b) => a - b),
    'blocks in index order',
  );
  const expected = seen.reduce((sum, index) => sum + Math.min(point.blockSize, disk.capacity - index * point.blockSize), 0);
  assert.equal(rawBytesBelow(disk, disk.blockCount) - rawBytesBelow(disk, from), expected);
  // Holes are not fed: a 6 MiB disk with a 1 MiB hole has fewer blocks than its capacity.
  if (from === 0) assert.ok(seen.length < disk.blockCount);
}

test('block feed: a plain point, from the start and from watermarks, makes the disk again', async () => {
  const { raw, point } = await backedUp('plain', false);
  const disk = point.disks[0];
  assert.ok(disk);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: disk.blockCount }), (from) => replay(point, raw, from)),
    { numRuns: 8 },
  );
});

test('block feed: an encrypted point is unsealed (still compressed) before it is sent', async () => {
  const { raw, point } = await backedUp('sealed', true);
  assert.ok(point.dataKey, 'the chain is encrypted');
  await replay(point, raw, 0);
});

test('block feed: a data file cut short is corrupt-backup naming disk and offset', async () => {
  const { point } = await backedUp('short', false);
  const disk = point.disks[0];
  assert.ok(disk);
  const handle = await open(point.dataFiles.get(point.point.sequence) as string, 'r+');
  await handle.truncate((await handle.stat()).size - 100);
  await handle.close();
  await assert.rejects(drain(point), {
    code: 'corrupt-backup',
    message: /disk \S+ \(.*\), offset \d+: the data file ends inside the block/,
  });
});

test('block feed: a flipped byte of a sealed block is corrupt-backup, never a block sent', async () => {
  const { point } = await backedUp('flipped', true);
  const data = point.dataFiles.get(point.point.sequence) as string;
  const original = await readFile(data);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: original.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, mask) => {
      const damaged = Buffer.from(original);
      damaged[at] = (damaged[at] as number) ^ mask;
      await writeFile(data, damaged);
      try {
        await drain(point);
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'corrupt-backup', String(error));
        assert.match((error as Error).message, /offset \d+: encrypted block does not authenticate/);
      }
    }),
    { numRuns: 25 },
  );
  await writeFile(data, original);
});

async function drain(point: ResolvedPoint): Promise<void> {
  for await (const block of feedBlocks(point, point.disks[0] as ResolvedPoint['disks'][number], 0, () => undefined)) void block;
}
