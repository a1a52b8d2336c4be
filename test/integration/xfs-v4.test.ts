// XFS version 4 (which this kernel no longer mounts: it is built with mkfs.xfs's prototype file
// and compared with the files mkfs copied and with xfs_db), and what is refused by name: a
// realtime subvolume, an unknown incompatible feature, needsrepair; and a damaged inode listed as one unreadable entry.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import type { Disk } from '../../electron/disks/disk.ts';
import { crc32c } from '../../electron/filesystems/crc32c.ts';
import { readAll } from '../../electron/filesystems/file-system.ts';
import { XfsFileSystem } from '../../electron/filesystems/xfs/xfs.ts';
import { tempDir } from '../helpers/env.ts';
import { treeOfFileSystem, treeOfFolder } from '../helpers/ext4-images.ts';
import { dataFork, folderForm, ImageFileDisk, makeXfs, openXfs, prototypeOf, xfsDb } from '../helpers/xfs-images.ts';

const longName = (index: number): string => `a-rather-long-file-name-so-the-folder-needs-many-blocks-${String(index).padStart(5, '0')}`;

for (const naming of [[], ['-n', 'ftype=0']]) {
  test(`version 4 (mkfs.xfs -m crc=0 ${naming.join(' ')}, by prototype file): read as mkfs copied it and as xfs_db lists it`, async () => {
    const dir = await tempDir('lifeboat-xfs4-');
    const source = join(dir, 'source');
    await mkdir(join(source, 'few'), { recursive: true });
    await writeFile(join(source, 'few', 'one.txt'), 'one\n');
    await mkdir(join(source, 'block'));
    for (let index = 0; index < 40; index++) await writeFile(join(source, 'block', `entry-${index}`), `${index}\n`);
    await mkdir(join(source, 'leaf'));
    for (let index = 0; index < 300; index++) await writeFile(join(source, 'leaf', `file-number-${index}`), '');
    await mkdir(join(source, 'node'));
    for (let index = 0; index < 2000; index++) await writeFile(join(source, 'node', longName(index)), `${index}`);
    await writeFile(join(source, 'big.bin'), Buffer.alloc(3 * 1024 * 1024 + 5, 0x61));
    await writeFile(join(source, 'setuid'), '#!/bin/sh\n');
    await symlink('few/one.txt', join(source, 'short-link'));
    await symlink(`/${'y'.repeat(599)}`, join(source, 'long-link'));
    const prototype = join(dir, 'proto');
    await writeFile(
      prototype,
      await prototypeOf(source, (path) =>
        path === '/setuid' ? { mode: 'u-755', uid: 1000, gid: 1001 } : { mode: path.endsWith('link') ? '--777' : '--755', uid: 0, gid: 0 },
      ),
    );
    const image = join(dir, 'v4.img');
    await makeXfs(image, '-m', 'crc=0', ...naming, '-p', prototype);
    assert.match(xfsDb(image, 'version'), /V4/u);
    assert.equal(folderForm(image, '/few'), 'short-form');
    assert.equal(folderForm(image, '/block'), 'block');
    assert.equal(folderForm(image, '/leaf'), 'leaf');
    assert.equal(folderForm(image, '/node'), 'node');
    assert.equal(dataFork(image, '/long-link').format, 'extents');

    const fs = await openXfs(image);
    assert.deepEqual(await treeOfFileSystem(fs), await treeOfFolder(source));
    const setuid = (await fs.list('/')).find((entry) => entry.name === 'setuid');
    assert.equal(setuid?.mode, 0o4755);
    assert.deepEqual(await fs.owner('setuid'), { uid: 1000, gid: 1001, links: 1 });
    // Names and inode numbers as xfs_db reads the folders.
    for (const folder of ['/', '/node', '/leaf']) {
      const expected = [...xfsDb(image, `ls ${folder}`).matchAll(/^\d+\s+(\d+)\s+\w+\s+0x[0-9a-f]+\s+\d+ (.*) \(good\)$/gmu)]
        .map((match) => `${match[2]} ${match[1]}`)
        .filter((line) => !line.startsWith('. ') && !line.startsWith('.. '))
        .sort();
      const ours = (await fs.list(folder)).map((entry) => `${entry.name} ${entry.fileId}`).sort();
      assert.deepEqual(ours, expected, folder);
    }
  });
}

/** The image with its superblock's incompat word changed and its CRC made right again (a copy in memory of the first sector only). */
async function withIncompat(image: string, bits: number): Promise<Disk> {
  const disk = new ImageFileDisk(image);
  const sector = await disk.read(0, 512);
  sector.writeUInt32BE((sector.readUInt32BE(216) | bits) >>> 0, 216);
  sector.writeUInt32LE(0, 224);
  sector.writeUInt32LE(~crc32c(0xffffffff, sector) >>> 0, 224);
  return {
    capacity: disk.capacity,
    description: disk.description,
    read: async (offset, length) => {
      const bytes = await disk.read(offset, length);
      if (offset < 512) sector.copy(bytes, 0, offset, Math.min(512, offset + length));
      return bytes;
    },
    close: () => disk.close(),
  };
}

test('a realtime subvolume, an unknown incompatible feature and needsrepair are refused by name', async () => {
  const dir = await tempDir('lifeboat-xfs-');
  const realtime = join(dir, 'rt.img');
  await writeFile(join(dir, 'rtdev'), '');
  execFileSync('truncate', ['-s', '64M', join(dir, 'rtdev')]);
  await makeXfs(realtime, '-r', `rtdev=${join(dir, 'rtdev')}`);
  assert.match(xfsDb(realtime, 'sb 0', 'print rblocks'), /rblocks = [1-9]/u);
  await assert.rejects(openXfs(realtime), { code: 'unavailable', message: 'XFS realtime subvolume: not read' });

  const plain = join(dir, 'plain.img');
  await makeXfs(plain);
  assert.equal((await openXfs(plain)).kind, 'xfs');
  await assert.rejects(XfsFileSystem.open(await withIncompat(plain, 0x40000000)), {
    code: 'unavailable',
    message: 'XFS unknown incompatible feature bits 0x40000000: not read',
  });
  await assert.rejects(XfsFileSystem.open(await withIncompat(plain, 0x10)), { code: 'unavailable', message: /XFS feature needsrepair/u });
  // The same bit without a right CRC is damage, not a feature.
  const damaged = Buffer.concat([await new ImageFileDisk(plain).read(0, 512), Buffer.alloc(1024 * 1024)]);
  damaged[216] = 0x40;
  await assert.rejects(XfsFileSystem.open(new BytesDisk(damaged, 'damaged')), { code: 'corrupt-disk', message: /fails its checksum/u });
});

test('an inode that fails its checksum is one unreadable entry; the rest of its folder reads', async () => {
  const dir = await tempDir('lifeboat-xfs-');
  const source = join(dir, 'source');
  await mkdir(source);
  for (const name of ['first.txt', 'second.txt', 'third.txt']) await writeFile(join(source, name), `${name}\n`);
  const prototype = join(dir, 'proto');
  await writeFile(prototype, await prototypeOf(source, () => ({ mode: '--644', uid: 0, gid: 0 })));
  const image = join(dir, 'v5.img');
  await makeXfs(image, '-p', prototype);
  const inode = Number(/current inode number is (\d+)/u.exec(xfsDb(image, 'path /second.txt', 'inode'))?.[1]);
  const byte = Number(/\((\d+)\)/u.exec(xfsDb(image, `convert ino ${inode} byte`))?.[1]);
  const disk = new ImageFileDisk(image);
  const damaged: Disk = {
    capacity: disk.capacity,
    description: disk.description,
    read: async (offset, length) => {
      const bytes = await disk.read(offset, length);
      // The inode's uid changed: its CRC no longer matches.
      if (offset <= byte + 8 && byte + 8 < offset + length) bytes[byte + 8 - offset] = (bytes[byte + 8 - offset] as number) ^ 0x01;
      return bytes;
    },
    close: () => disk.close(),
  };
  const fs = await XfsFileSystem.open(damaged);
  const listing = await fs.list('/');
  assert.deepEqual(
    listing.map((entry) => [entry.name, entry.type, entry.problem ?? null]),
    [
      ['first.txt', 'file', null],
      ['second.txt', 'other', `XFS inode ${inode} fails its checksum (a damaged inode)`],
      ['third.txt', 'file', null],
    ],
  );
  await assert.rejects(readAll(fs, 'second.txt', 100), { code: 'corrupt-disk' });
  assert.equal((await readAll(fs, 'third.txt', 100)).toString(), 'third.txt\n');
  await disk.close();
});
