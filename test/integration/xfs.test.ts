// XFS as mkfs.xfs and the Linux kernel write it: every folder form (short-form, block, leaf,
// node), extent lists and B+tree maps, holes and unwritten extents, inline and remote symlinks,
// hard links, modes, owners and timestamps before 1970 and after 2038. Every listing, every
// file's bytes and every entry's mode, owner, mtime, size, link count and inode number are
// compared with what the kernel shows through a loop mount of the same image; xfs_db says which
// on-disk form each case really got. Version 4 and refusals: xfs-v4.test.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { chmod, chown, link, lutimes, mkdir, open, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Disk } from '../../electron/disks/disk.ts';
import { readAll, type FileRegion } from '../../electron/filesystems/file-system.ts';
import { XfsFileSystem } from '../../electron/filesystems/xfs/xfs.ts';
import { tempDir } from '../helpers/env.ts';
import { withMount } from '../helpers/ext4-images.ts';
import { dataFork, folderForm, ImageFileDisk, makeXfs, openXfs, xfsDb } from '../helpers/xfs-images.ts';

const privileged = process.getuid?.() === 0;
const needsRoot = privileged ? false : 'loop mounts of XFS images need root (CI runs as root)';
const NODE_ENTRIES = 6000;
const longName = (index: number): string => `a-rather-long-file-name-so-the-folder-needs-many-blocks-${String(index).padStart(5, '0')}`;

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

/** What the kernel shows for every entry under a mounted folder: one comparable line each, with a
 * file's content hash or a symlink's target (synchronous calls: thousands of small files). */
function kernelDetails(base: string, inner = ''): string[] {
  const lines: string[] = [];
  for (const name of readdirSync(join(base, inner))) {
    const path = `${inner}/${name}`;
    const info = lstatSync(join(base, path));
    const type = info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'symlink' : info.isFile() ? 'file' : 'other';
    const content = type === 'file' ? sha(readFileSync(join(base, path))) : type === 'symlink' ? readlinkSync(join(base, path)) : '';
    lines.push(
      `${JSON.stringify(path)} ${type} size=${type === 'dir' ? 0 : info.size} mode=${(info.mode & 0o7777).toString(8)} owner=${info.uid}:${info.gid} ` +
        `mtime=${Math.floor(info.mtimeMs)} links=${info.nlink} ino=${info.ino} ${content}`,
    );
    if (type === 'dir') lines.push(...kernelDetails(base, path));
  }
  return lines.sort();
}

/** The same lines from our reader. */
async function readerDetails(fs: XfsFileSystem, folder = '/'): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of await fs.list(folder)) {
    const path = `${folder === '/' ? '' : folder}/${entry.name}`;
    const { uid, gid } = await fs.owner(path);
    const content = entry.type === 'file' ? sha(await readAll(fs, path, 64 * 1024 * 1024)) : (entry.target ?? '');
    lines.push(
      `${JSON.stringify(path)} ${entry.type} size=${entry.size} mode=${(entry.mode ?? -1).toString(8)} owner=${uid}:${gid} ` +
        `mtime=${entry.mtime?.getTime()} links=${entry.links} ino=${entry.fileId} ${content}`,
    );
    if (entry.type === 'dir') lines.push(...(await readerDetails(fs, path)));
  }
  return lines.sort();
}

const xfsIo = (file: string, ...commands: string[]): string =>
  execFileSync('xfs_io', ['-f', ...commands.flatMap((command) => ['-c', command]), file], { encoding: 'utf8' });

/** Everything the tests look for, written through the kernel. */
async function populate(folder: string): Promise<void> {
  await mkdir(join(folder, 'few'));
  for (const name of ['a', 'b', 'c']) await writeFile(join(folder, 'few', name), `${name}\n`);
  await mkdir(join(folder, 'block'));
  for (let index = 0; index < 40; index++) await writeFile(join(folder, 'block', `entry-${index}`), `${index}\n`);
  await mkdir(join(folder, 'leaf'));
  for (let index = 0; index < 300; index++) writeFileSync(join(folder, 'leaf', `file-number-${index}`), '');
  await mkdir(join(folder, 'node'));
  for (let index = 0; index < NODE_ENTRIES; index++) writeFileSync(join(folder, 'node', longName(index)), '');
  // Every other 4 KiB of a 4 MiB file punched out: 512 extents, more than an inode holds.
  const random = Buffer.alloc(4 * 1024 * 1024);
  for (let at = 0; at < random.length; at += 4) random.writeUInt32LE((at * 2654435761) >>> 0, at);
  await writeFile(join(folder, 'fragmented.bin'), random);
  xfsIo(join(folder, 'fragmented.bin'), ...Array.from({ length: 512 }, (_, index) => `fpunch ${index * 8192} 4096`));
  const sparse = await open(join(folder, 'sparse.bin'), 'w');
  await sparse.write(Buffer.from('start'), 0, 5, 0);
  await sparse.write(Buffer.from('end\n'), 0, 4, 40 * 1024 * 1024);
  await sparse.close();
  xfsIo(join(folder, 'unwritten.bin'), 'falloc 0 1m');
  xfsIo(join(folder, 'partly-written.bin'), 'falloc 0 1m', 'pwrite -S 0x5a 262144 4096');
  await symlink('few/a', join(folder, 'short-link'));
  await symlink(`/${'x'.repeat(599)}`, join(folder, 'long-link'));
  await link(join(folder, 'few', 'a'), join(folder, 'hard-link-to-a'));
  await writeFile(join(folder, 'setuid-owned'), 'owned\n');
  await chmod(join(folder, 'setuid-owned'), 0o4755);
  await chown(join(folder, 'setuid-owned'), 1234, 5678);
  await mkdir(join(folder, 'sticky'));
  await chmod(join(folder, 'sticky'), 0o1777);
  await writeFile(join(folder, 'before-1970'), 'old\n');
  await utimes(join(folder, 'before-1970'), new Date('1960-01-01T00:00:00.500Z'), new Date('1960-01-01T00:00:00.500Z'));
  await writeFile(join(folder, 'after-2038'), 'new\n');
  await utimes(join(folder, 'after-2038'), new Date('2200-06-01T12:00:00Z'), new Date('2200-06-01T12:00:00Z'));
  await lutimes(join(folder, 'short-link'), new Date('1999-12-31T23:59:59Z'), new Date('1999-12-31T23:59:59Z'));
  for (const name of ['with space', 'new\nline', 'ünïcödé-名前.txt', 'emoji-🙂']) await writeFile(join(folder, name), name);
  execFileSync('mkfifo', [join(folder, 'a-fifo')]);
  execFileSync('mknod', [join(folder, 'a-device'), 'c', '1', '3']);
}

async function regionsOf(fs: XfsFileSystem, path: string): Promise<{ data: number; holes: number }> {
  const sums = { data: 0, holes: 0 };
  for await (const region of fs.readRegions(path) as AsyncGenerator<FileRegion>) {
    if (region instanceof Uint8Array) sums.data += region.length;
    else sums.holes += region.hole;
  }
  return sums;
}

/** Counts the reads a reader makes: a path lookup must not read the whole folder each time. */
class CountingDisk implements Disk {
  reads = 0;
  readonly capacity: number;
  readonly description: string;
  private readonly inner: Disk;
  constructor(inner: Disk) {
    this.inner = inner;
    this.capacity = inner.capacity;
    this.description = inner.description;
  }
  read(offset: number, length: number): Promise<Buffer> {
    this.reads++;
    return this.inner.read(offset, length);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

for (const options of [[], ['-m', 'bigtime=0,reflink=0', '-i', 'nrext64=1', '-b', 'size=1024', '-n', 'size=8192']]) {
  test(
    `mkfs.xfs ${options.join(' ') || '(defaults: v5)'}: every listing, byte and attribute as the kernel shows it`,
    { skip: needsRoot },
    async () => {
      const dir = await tempDir('lifeboat-xfs-');
      const image = join(dir, 'xfs.img');
      await makeXfs(image, '-L', 'lifeboat', ...options);
      await withMount(image, 'rw', populate);

      // The cases really occur in the forms they are meant to test.
      assert.equal(folderForm(image, '/few'), 'short-form');
      assert.equal(folderForm(image, '/block'), 'block');
      assert.equal(folderForm(image, '/leaf'), 'leaf');
      assert.equal(folderForm(image, '/node'), 'node');
      assert.equal(dataFork(image, '/fragmented.bin').format, 'btree');
      assert.ok(dataFork(image, '/fragmented.bin').extents >= 256);
      assert.equal(dataFork(image, '/short-link').format, 'local');
      assert.equal(dataFork(image, '/long-link').format, 'extents');
      assert.match(xfsDb(image, 'path /unwritten.bin', 'bmap'), /flag 1/u, 'the fallocated file has an unwritten extent');
      assert.match(xfsDb(image, 'version'), options.length === 0 ? /BIGTIME/u : /NREXT64/u);

      const fs = await openXfs(image);
      assert.equal(fs.kind, 'xfs');
      assert.equal(fs.label, 'lifeboat');
      assert.deepEqual(fs.notes, [], 'a cleanly unmounted volume has nothing to say');
      const kernelView = await withMount(image, 'ro', async (folder) => kernelDetails(folder));
      assert.ok(kernelView.length > NODE_ENTRIES);
      assert.deepEqual(await readerDetails(fs), kernelView);
      assert.ok(kernelView.some((line) => line.includes('"/before-1970"') && line.includes('mtime=-315619199500')));
      if (options.length === 0)
        assert.ok(
          kernelView.some((line) => line.includes('"/after-2038"') && line.includes(`mtime=${Date.parse('2200-06-01T12:00:00Z')}`)),
        );

      // Holes and unwritten extents are holes; the hard link's names share one inode.
      const sparse = await regionsOf(fs, 'sparse.bin');
      assert.ok(sparse.holes >= 40 * 1024 * 1024 - 64 * 1024 && sparse.data + sparse.holes === 40 * 1024 * 1024 + 4);
      assert.deepEqual(await regionsOf(fs, 'unwritten.bin'), { data: 0, holes: 1024 * 1024 });
      const partly = await regionsOf(fs, 'partly-written.bin');
      assert.ok(partly.data >= 4096 && partly.data < 1024 * 1024 && partly.data + partly.holes === 1024 * 1024);
      const fragmented = await regionsOf(fs, 'fragmented.bin');
      assert.equal(fragmented.holes, 2 * 1024 * 1024);
      assert.equal((await fs.stat('hard-link-to-a')).fileId, (await fs.stat('few/a')).fileId);
      assert.equal((await fs.stat('few/a')).links, 2);
      assert.ok(((await fs.stat('sparse.bin')).allocated ?? Infinity) < 1024 * 1024);

      // Looking up each of the node folder's names reads the folder once, not once per name.
      const counting = new CountingDisk(new ImageFileDisk(image));
      try {
        const counted = await XfsFileSystem.open(counting);
        const names = (await counted.list('/node')).map((entry) => entry.name);
        const before = counting.reads;
        for (const name of names) assert.equal((await counted.stat(`/node/${name}`)).name, name);
        assert.ok(counting.reads - before <= 2 * NODE_ENTRIES, `${counting.reads - before} reads for ${NODE_ENTRIES} lookups`);
      } finally {
        await counting.close();
      }
    },
  );
}

test(
  'a copy taken while mounted says its log was not replayed (may be stale); the clean image says it is clean',
  { skip: needsRoot },
  async () => {
    const dir = await tempDir('lifeboat-xfs-');
    const image = join(dir, 'xfs.img');
    await makeXfs(image);
    const copy = join(dir, 'copy.img');
    await withMount(image, 'rw', async (folder) => {
      await writeFile(join(folder, 'new.txt'), 'written while mounted\n');
      execFileSync('sync', ['-f', join(folder, 'new.txt')]);
      execFileSync('cp', ['--sparse=always', image, copy]);
    });
    const [note] = (await openXfs(copy)).notes;
    assert.equal(note?.stale, true);
    assert.match(note?.text ?? '', /^may be stale: the XFS log was not replayed.*not cleanly unmounted/u);
    assert.deepEqual((await openXfs(image)).notes, []);
  },
);
