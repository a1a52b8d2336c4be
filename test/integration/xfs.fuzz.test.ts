// The XFS reader on damaged bytes: real images (v5 populated through the kernel, v4 by mkfs's
// prototype file) with random bytes changed in their metadata — the superblock, inode clusters,
// folder data blocks, bmbt blocks, a remote symlink block, the log's head. Every walk of the
// whole tree ends with data or our own clear error, within a bounded number of reads.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import type { Disk } from '../../electron/disks/disk.ts';
import { isReadFailure } from '../../electron/filesystems/file-system.ts';
import { XfsFileSystem } from '../../electron/filesystems/xfs/xfs.ts';
import { tempDir } from '../helpers/env.ts';
import { withMount } from '../helpers/ext4-images.ts';
import { ImageFileDisk, makeXfs, prototypeOf, xfsDb } from '../helpers/xfs-images.ts';

const needsRoot = process.getuid?.() === 0 ? false : 'loop mounts of XFS images need root (CI runs as root)';
/** Work a walk of a damaged image may take: far more than a whole walk of the undamaged one needs. */
const MAX_READS = 60_000;
const MAX_BYTES = 256 * 1024 * 1024;
const MAX_READ_PER_FILE = 4 * 1024 * 1024;

/** The image with some bytes changed (xor), counting the reads made of it. */
class DamagedDisk implements Disk {
  reads = 0;
  bytes = 0;
  readonly capacity: number;
  readonly description = 'damaged XFS image';
  private readonly base: Disk;
  private readonly changes: [number, number][];
  constructor(base: Disk, changes: [number, number][]) {
    this.base = base;
    this.capacity = base.capacity;
    this.changes = changes;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    this.reads++;
    this.bytes += length;
    if (this.reads > MAX_READS || this.bytes > MAX_BYTES)
      throw new Error(`the walk made more than ${MAX_READS} reads or ${MAX_BYTES} bytes`);
    const bytes = await this.base.read(offset, length);
    for (const [at, xor] of this.changes)
      if (at >= offset && at < offset + length) bytes[at - offset] = (bytes[at - offset] as number) ^ xor;
    return bytes;
  }
  async close(): Promise<void> {}
}

/** Lists every folder and reads every file's first bytes; how many entries it saw. */
async function walk(fs: XfsFileSystem): Promise<number> {
  let seen = 0;
  const queue = ['/'];
  while (queue.length > 0 && seen < 5000) {
    const path = queue.shift() as string;
    for (const entry of await fs.list(path)) {
      seen++;
      const child = `${path === '/' ? '' : path}/${entry.name}`;
      if (entry.type === 'dir') queue.push(child);
      else if (entry.type === 'file' && entry.size > 0) {
        let read = 0;
        for await (const chunk of fs.read(child)) {
          read += chunk.length;
          if (read >= MAX_READ_PER_FILE) break;
        }
      }
    }
  }
  return seen;
}

async function survives(base: Disk, changes: [number, number][]): Promise<void> {
  try {
    await walk(await XfsFileSystem.open(new DamagedDisk(base, changes)));
  } catch (error) {
    assert.ok(isReadFailure(error), `unexpected ${(error as Error).constructor.name}: ${(error as Error).message}`);
  }
}

/** Byte ranges of the image's metadata, found with xfs_db: where damage means something. */
function metadataRanges(image: string, paths: string[]): [number, number][] {
  const geometry = xfsDb(image, 'sb 0', 'print blocksize agblocks agblklog logstart inodesize versionnum');
  const field = (name: string): number => Number(new RegExp(`^${name} = (\\w+)`, 'mu').exec(geometry)?.[1]);
  const [blockSize, agBlocks, agBlockLog, inodeSize] = [field('blocksize'), field('agblocks'), field('agblklog'), field('inodesize')];
  const byteOf = (what: string): number => Number(/\((\d+)\)/u.exec(xfsDb(image, `convert ${what} byte`))?.[1]);
  const byteOfFsBlock = (fsBlock: number): number =>
    (Math.floor(fsBlock / 2 ** agBlockLog) * agBlocks + (fsBlock % 2 ** agBlockLog)) * blockSize;
  const ranges: [number, number][] = [
    [0, 512],
    [byteOf(`fsb ${field('logstart')}`), 8 * blockSize],
  ];
  const v5 = (field('versionnum') & 0xf) === 5;
  for (const path of paths) {
    const inode = Number(/current inode number is (\d+)/u.exec(xfsDb(image, `path ${path}`, 'inode'))?.[1]);
    ranges.push([byteOf(`ino ${inode}`), inodeSize]);
    for (const match of xfsDb(image, `path ${path}`, 'bmap').matchAll(/startblock (\d+) \(\d+\/\d+\) count (\d+)/gu))
      ranges.push([byteOfFsBlock(Number(match[1])), Math.min(Number(match[2]), 4) * blockSize]);
    const format = xfsDb(image, `path ${path}`, 'print core.format');
    if (format.includes('btree')) {
      const pointers = xfsDb(image, `path ${path}`, `print ${v5 ? 'u3' : 'u'}.bmbt.ptrs`);
      for (const match of pointers.matchAll(/\d+:(\d+)/gu)) ranges.push([byteOfFsBlock(Number(match[1])), blockSize]);
    }
  }
  return ranges.filter(([start, length]) => Number.isSafeInteger(start) && length > 0);
}

/** Random damage: which range, where in it, what xor. */
const edits = (ranges: [number, number][]): fc.Arbitrary<[number, number][]> =>
  fc
    .array(fc.tuple(fc.nat({ max: ranges.length - 1 }), fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 12 })
    .map((picks) =>
      picks.map(([range, at, xor]) => {
        const [start, length] = ranges[range] as [number, number];
        return [start + (at % length), xor];
      }),
    );

async function content(folder: string): Promise<void> {
  await mkdir(join(folder, 'few'));
  await writeFile(join(folder, 'few', 'a'), 'a\n');
  await mkdir(join(folder, 'block'));
  for (let index = 0; index < 40; index++) writeFileSync(join(folder, 'block', `entry-${index}`), `${index}\n`);
  await mkdir(join(folder, 'leaf'));
  for (let index = 0; index < 300; index++) writeFileSync(join(folder, 'leaf', `file-number-${index}`), '');
  await mkdir(join(folder, 'node'));
  for (let index = 0; index < 1200; index++)
    writeFileSync(join(folder, 'node', `a-long-name-so-the-folder-needs-many-blocks-${index}`), '');
  await symlink(`/${'x'.repeat(599)}`, join(folder, 'long-link'));
  await symlink('few/a', join(folder, 'short-link'));
}

const PATHS = ['/', '/few', '/block', '/leaf', '/node', '/long-link'];

test('v5 (kernel-populated) with damaged metadata: data or a clear error, within bounded work', { skip: needsRoot }, async () => {
  const dir = await tempDir('lifeboat-xfs-fuzz-');
  const image = join(dir, 'xfs.img');
  await makeXfs(image);
  await withMount(image, 'rw', async (folder) => {
    await content(folder);
    const random = Buffer.alloc(2 * 1024 * 1024, 0x33);
    await writeFile(join(folder, 'fragmented.bin'), random);
    const punches = Array.from({ length: 256 }, (_, index) => ['-c', `fpunch ${index * 8192} 4096`]).flat();
    execFileSync('xfs_io', [...punches, join(folder, 'fragmented.bin')]);
  });
  const base = new ImageFileDisk(image);
  try {
    assert.ok((await walk(await XfsFileSystem.open(base))) > 1000);
    const ranges = metadataRanges(image, [...PATHS, '/fragmented.bin']);
    assert.ok(ranges.length > 10, 'the metadata was found');
    assert.ok(xfsDb(image, 'path /fragmented.bin', 'print core.format').includes('btree'), 'the punched file has a bmbt');
    await fc.assert(
      fc.asyncProperty(edits(ranges), (changes) => survives(base, changes)),
      { numRuns: 150 },
    );
  } finally {
    await base.close();
  }
});

test('v4 (mkfs prototype) with damaged metadata: data or a clear error, within bounded work', async () => {
  const dir = await tempDir('lifeboat-xfs-fuzz-');
  const source = join(dir, 'source');
  await mkdir(source);
  await content(source);
  await writeFile(join(source, 'big.bin'), Buffer.alloc(300_000, 7));
  const prototype = join(dir, 'proto');
  await writeFile(prototype, await prototypeOf(source, (path) => ({ mode: path.endsWith('link') ? '--777' : '--755', uid: 0, gid: 0 })));
  const image = join(dir, 'v4.img');
  await makeXfs(image, '-m', 'crc=0', '-p', prototype);
  const base = new ImageFileDisk(image);
  try {
    assert.ok((await walk(await XfsFileSystem.open(base))) > 1000);
    await fc.assert(
      fc.asyncProperty(edits(metadataRanges(image, [...PATHS, '/big.bin'])), (changes) => survives(base, changes)),
      { numRuns: 120 },
    );
  } finally {
    await base.close();
  }
});
