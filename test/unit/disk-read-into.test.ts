// readInto gives the bytes read() gives, into the caller's buffer: a raw image, a flat VMDK, and a
// VMDK of several extents (two files at offsets, a ZERO extent between them) read across their
// edges, into a buffer holding old bytes (a backup reuses its piece buffers).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openDiskChain } from '../../electron/disks/vmdk-chain.ts';

const SECTOR = 512;
const folder = await mkdtemp(join(tmpdir(), 'lifeboat-read-into-'));
after(() => rm(folder, { recursive: true, force: true }));

async function sameBytes(path: string, ranges: [number, number][]): Promise<void> {
  const { disk } = await openDiskChain(path);
  try {
    assert.ok(disk.readInto, `${path} reads into a given buffer`);
    for (const [offset, length] of ranges) {
      const target = Buffer.alloc(length + 100, 0xee);
      await disk.readInto(target, offset, length);
      assert.ok(target.subarray(0, length).equals(await disk.read(offset, length)), `${length} bytes at ${offset}`);
      assert.ok(
        target.subarray(length).every((byte) => byte === 0xee),
        'nothing past length is written',
      );
    }
  } finally {
    await disk.close();
  }
}

test('a raw image and a flat VMDK read into a buffer as read() reads them', async () => {
  const raw = join(folder, 'disk.raw');
  await writeFile(raw, randomBytes(64 * SECTOR));
  await sameBytes(raw, [
    [0, 64 * SECTOR],
    [3 * SECTOR + 7, 1000],
  ]);
  await writeFile(
    join(folder, 'flat.vmdk'),
    `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 64 FLAT "disk.raw" 0\n`,
  );
  await sameBytes(join(folder, 'flat.vmdk'), [
    [0, 64 * SECTOR],
    [SECTOR, 2 * SECTOR],
  ]);
});

test('a VMDK of several extents reads into a buffer across their edges, its ZERO extent as zeros', async () => {
  await writeFile(join(folder, 'a.raw'), randomBytes(40 * SECTOR));
  await writeFile(join(folder, 'b.raw'), randomBytes(16 * SECTOR));
  await writeFile(
    join(folder, 'multi.vmdk'),
    `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="twoGbMaxExtentFlat"\n\nRW 32 FLAT "a.raw" 8\nRW 16 ZERO\nRW 16 FLAT "b.raw" 0\n`,
  );
  await sameBytes(join(folder, 'multi.vmdk'), [
    [0, 64 * SECTOR],
    [30 * SECTOR, 20 * SECTOR],
    [40 * SECTOR, 4 * SECTOR],
    [47 * SECTOR, 17 * SECTOR],
  ]);
});
