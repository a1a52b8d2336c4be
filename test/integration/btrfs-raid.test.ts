// The btrfs reader against the Linux kernel on multi-device images: RAID1 over two members (read
// in either order, and from one member alone), RAID0 data with RAID1C3 metadata over three and
// RAID10 over four, populated through kernel loop mounts. Every listing and every file's bytes,
// mode, size, mtime and link count must be what the kernel shows.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { RawDisk } from '../../electron/disks/raw-disk.ts';
import { probeBtrfs } from '../../electron/filesystems/btrfs/btrfs.ts';
import { readAll } from '../../electron/filesystems/file-system.ts';
import { tempDir } from '../helpers/env.ts';
import {
  assertSameTree,
  kernelTree,
  makeBtrfs,
  openBtrfs,
  random,
  readerTree,
  withBtrfsMount,
  writeVariety,
} from '../helpers/btrfs-images.ts';

const skip = process.getuid?.() !== 0 ? 'needs root: the images are populated and checked through kernel loop mounts' : false;
const MIB = 1024 * 1024;

test('btrfs RAID1 over two members: read from either order, and from one member alone (noted)', { skip }, async () => {
  const dir = await tempDir('lifeboat-btrfs-');
  const images = [join(dir, 'a.img'), join(dir, 'b.img')];
  await makeBtrfs(images, 200, '-d', 'raid1', '-m', 'raid1', '-O', '^no-holes');
  await withBtrfsMount(images, 'compress=lzo', async (folder) => {
    await writeVariety(join(folder, 'files'), 'raid1');
  });
  const kernel = await withBtrfsMount(images, 'ro', kernelTree);
  const probes = await Promise.all(
    images.map(async (image) => {
      const disk = await RawDisk.open(image);
      const probe = await probeBtrfs(disk);
      await disk.close();
      return probe;
    }),
  );
  assert.deepEqual(probes.map((probe) => probe?.deviceId).sort(), [1, 2]);
  assert.equal(probes[0]?.fsid, probes[1]?.fsid);
  assertSameTree(await readerTree(await openBtrfs([...images].reverse())), kernel);
  const alone = await openBtrfs([images[0] as string]);
  assertSameTree(await readerTree(alone), kernel, 'one member alone');
  assert.match(alone.notes.map((note) => note.text).join('\n'), /device 2 of 2 is missing/);
  await assert.rejects(openBtrfs([images[0] as string, images[0] as string]), /two members claim device 1/);
});

test('btrfs RAID0 data with RAID1C3 metadata over three members, and RAID10 over four, match the kernel', { skip }, async () => {
  const dir = await tempDir('lifeboat-btrfs-');
  for (const [profile, count] of [
    ['raid0', 3],
    ['raid10', 4],
  ] as const) {
    const images = Array.from({ length: count }, (_, i) => join(dir, `${profile}-${i}.img`));
    await makeBtrfs(images, 160, '-d', profile, '-m', profile === 'raid0' ? 'raid1c3' : 'raid10');
    await withBtrfsMount(images, '', async (folder) => {
      await writeVariety(join(folder, 'files'), profile);
      await writeFile(join(folder, 'big.bin'), random(5 * MIB + 77, 21));
    });
    const kernel = await withBtrfsMount(images, 'ro', kernelTree);
    assertSameTree(await readerTree(await openBtrfs(images)), kernel, profile);
    // RAID0 data cannot be read without every member: a clear error names the missing device.
    if (profile === 'raid0') {
      const partial = await openBtrfs(images.slice(0, 2));
      await assert.rejects(readAll(partial, '/big.bin', 10 * MIB), /device 3, which is missing/);
    }
  }
});

test('btrfs RAID5 data is refused by name; the folders (RAID1 metadata) still list', { skip }, async () => {
  const dir = await tempDir('lifeboat-btrfs-');
  const images = Array.from({ length: 3 }, (_, i) => join(dir, `raid5-${i}.img`));
  await makeBtrfs(images, 160, '-d', 'raid5', '-m', 'raid1');
  await withBtrfsMount(images, '', async (folder) => writeFile(join(folder, 'data.bin'), random(300_000, 5)));
  const fs = await openBtrfs(images);
  assert.deepEqual(
    (await fs.list('/')).map((entry) => [entry.name, entry.size]),
    [['data.bin', 300_000]],
  );
  await assert.rejects(readAll(fs, '/data.bin', MIB), /btrfs RAID5 chunk: not read/);
});
