// Reading a restore point's disk without restoring it: any range equals the source as it was at
// that point, streaming yields the whole disk, and a corrupt block is named.
import assert from 'node:assert/strict';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { resolvePoint } from '../../electron/repository/chain.ts';
import { PointDisk } from '../../electron/repository/point-disk.ts';
import { changeRaw, makeVmFolder, openEngine, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

test('random-access reads and streaming of every point match the source at that point', async () => {
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
    const disk = new PointDisk(await resolvePoint(engine.repository, vmId, manifest.id), 'scsi0:0', { cacheBlocks: 4 });
    try {
      await fc.assert(
        fc.asyncProperty(fc.nat(expected.length - 1), fc.nat(300_000), async (offset, wanted) => {
          const length = Math.min(wanted, expected.length - offset);
          assert.ok((await disk.read(offset, length)).equals(expected.subarray(offset, offset + length)));
        }),
        { numRuns: 80 },
      );
      const chunks: Uint8Array[] = [];
      for await (const block of disk.stream()) chunks.push(block);
      assert.ok(Buffer.concat(chunks).equals(expected));
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
  const damaged = new PointDisk(await resolvePoint(engine.repository, vmId, first.id), 'scsi0:0');
  try {
    await assert.rejects(
      async () => {
        for await (const block of damaged.stream()) void block;
      },
      { code: 'corrupt-backup', message: /delta point 1 disk scsi0:0, offset \d+: corrupt block/ },
    );
  } finally {
    await damaged.close();
  }
});
