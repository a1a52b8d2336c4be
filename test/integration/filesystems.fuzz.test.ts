// The file system and partition parsers on damaged bytes: real images made by mke2fs, mkfs.fat
// and sgdisk, with random bytes of their metadata changed. Every walk of the whole tree ends,
// quickly, with data or with our own clear error.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import type { Disk } from '../../electron/disks/disk.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { ExtFileSystem } from '../../electron/filesystems/ext4.ts';
import { FatFileSystem, parseFatBootSector, parseFatDirectory } from '../../electron/filesystems/fat.ts';
import { NtfsFileSystem, decodeRuns, parseNtfsBootSector, parseAttributes, parseIndexEntries } from '../../electron/filesystems/ntfs.ts';
import { readPartitionTable, parseGptHeader } from '../../electron/filesystems/partitions.ts';
import { readAll, type FileSystem } from '../../electron/filesystems/file-system.ts';
import { parseExtSuperblock } from '../../electron/filesystems/ext4.ts';
import { tempDir } from '../helpers/env.ts';
import { debugfsRequest, makeExt4, withMount } from '../helpers/ext4-images.ts';
import { parseJournalSuperblock } from '../../electron/filesystems/jbd2.ts';

const fuzzedDisk = (bytes: Buffer): BytesDisk => new BytesDisk(bytes, 'fuzzed image');

const MAX_WALK_MS = 2000;

const MAX_READ_PER_FILE = 4 * 1024 * 1024;

/** A file's first bytes: a damaged size may claim terabytes of holes, whose zeros prove nothing. */
async function readSome(fs: FileSystem, path: string): Promise<void> {
  let read = 0;
  for await (const chunk of fs.read(path)) {
    read += chunk.length;
    if (read >= MAX_READ_PER_FILE) break;
  }
}

/** Lists and reads everything, bounded in entries and bytes; returns how many entries it saw. */
async function walk(fs: FileSystem): Promise<number> {
  let seen = 0;
  const queue = ['/'];
  while (queue.length > 0 && seen < 500) {
    const path = queue.shift() as string;
    for (const entry of await fs.list(path)) {
      seen++;
      const child = `${path === '/' ? '' : path}/${entry.name}`;
      if (entry.type === 'dir') queue.push(child);
      else if (entry.type === 'file') await readSome(fs, child);
    }
  }
  return seen;
}

async function survives(open: (disk: Disk) => Promise<FileSystem>, bytes: Buffer): Promise<void> {
  const started = performance.now();
  try {
    await walk(await open(fuzzedDisk(bytes)));
  } catch (error) {
    assert.ok(
      error instanceof LifeboatError || error instanceof RangeError,
      `unexpected ${(error as Error).constructor.name}: ${(error as Error).message}`,
    );
  }
  assert.ok(performance.now() - started < MAX_WALK_MS, 'a damaged image must not hang the walk');
}

async function images(): Promise<{ ext4: Buffer; fat: Buffer; fat32: Buffer; ntfs: Buffer }> {
  const dir = await tempDir();
  const files = join(dir, 'files');
  await mkdir(join(files, 'a', 'b'), { recursive: true });
  await writeFile(join(files, 'a', 'b', 'deep.txt'), 'deep\n');
  await writeFile(join(files, 'a', 'big.bin'), Buffer.alloc(300_000, 7));
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', files, join(dir, 'ext4.img'), '4M'], { stdio: 'ignore' });
  execFileSync('mkfs.fat', ['-C', join(dir, 'fat.img'), '2048'], { stdio: 'ignore' });
  execFileSync('mcopy', ['-i', join(dir, 'fat.img'), '-s', join(files, 'a'), '::/'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  execFileSync('mkfs.fat', ['-F', '32', '-C', join(dir, 'fat32.img'), String(40 * 1024)], { stdio: 'ignore' });
  execFileSync('mcopy', ['-i', join(dir, 'fat32.img'), '-s', join(files, 'a'), '::/'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  execFileSync('truncate', ['-s', '8M', join(dir, 'ntfs.img')]);
  execFileSync('mkntfs', ['-q', '-F', '-f', join(dir, 'ntfs.img')], { stdio: 'ignore' });
  execFileSync('ntfscp', ['-q', join(dir, 'ntfs.img'), join(files, 'a', 'big.bin'), 'big.bin'], { stdio: 'ignore' });
  execFileSync('ntfscp', ['-q', join(dir, 'ntfs.img'), join(files, 'a', 'b', 'deep.txt'), 'deep.txt'], { stdio: 'ignore' });
  return {
    ext4: await readFile(join(dir, 'ext4.img')),
    fat: await readFile(join(dir, 'fat.img')),
    fat32: await readFile(join(dir, 'fat32.img')),
    ntfs: await readFile(join(dir, 'ntfs.img')),
  };
}

const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 16 });

function damage(image: Buffer, changes: [number, number][], within: number): Buffer {
  const copy = Buffer.from(image);
  for (const [at, xor] of changes) {
    const index = at % within;
    copy[index] = (copy[index] as number) ^ xor;
  }
  return copy;
}

test('ext4 and FAT images with damaged metadata: data or a clear error, never a hang', async () => {
  const { ext4, fat, fat32, ntfs } = await images();
  assert.ok((await walk(await ExtFileSystem.open(fuzzedDisk(ext4)))) >= 4);
  assert.ok((await walk(await FatFileSystem.open(fuzzedDisk(fat)))) >= 4);
  const fat32fs = await FatFileSystem.open(fuzzedDisk(fat32));
  assert.ok((await walk(fat32fs)) >= 4, 'FAT32 (root directory in a cluster chain) walks too');
  assert.equal((await readAll(fat32fs, 'a/b/deep.txt', 100)).toString(), 'deep\n');
  assert.deepEqual((await (await NtfsFileSystem.open(fuzzedDisk(ntfs))).list('/')).map((entry) => entry.name).sort(), [
    'big.bin',
    'deep.txt',
  ]);
  await fc.assert(
    fc.asyncProperty(edits, async (changes) => survives(NtfsFileSystem.open, damage(ntfs, changes, 4 * 1024 * 1024))),
    { numRuns: 150 },
  );
  // Metadata lives in the first blocks: superblock, group descriptors, inode tables, FATs, root.
  await fc.assert(
    fc.asyncProperty(edits, async (changes) => survives(ExtFileSystem.open, damage(ext4, changes, 256 * 1024))),
    { numRuns: 150 },
  );
  // The example turns a '..' entry into a folder named '.. U' that points at its grandparent:
  // walked naively, each level deeper costs more (it once took 1.7 s); now it is a loop error.
  const loop: [number, number][] = [
    [1968375306, 83],
    [1919098095, 224],
    [438502847, 214],
    [74722901, 44],
    [1663784483, 117],
    [1205382624, 52],
    [1948867262, 220],
    [243909156, 122],
    [524370491, 50],
    [934749001, 231],
    [1895851603, 131],
  ];
  await fc.assert(
    fc.asyncProperty(edits, async (changes) => survives(FatFileSystem.open, damage(fat, changes, 64 * 1024))),
    { numRuns: 150, examples: [[loop]] },
  );
});

test('boot sectors, superblocks, directories and partition tables from random bytes', async () => {
  const clear = (fn: () => unknown): void => {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof LifeboatError, `unexpected ${(error as Error).message}`);
    }
  };
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 512, maxLength: 1100 }), (bytes) => {
      const buffer = Buffer.from(bytes);
      clear(() => parseFatBootSector(buffer, 1 << 30));
      clear(() => parseExtSuperblock(Buffer.concat([buffer, Buffer.alloc(1024)]), 1 << 30));
      clear(() => parseJournalSuperblock(Buffer.concat([buffer, Buffer.alloc(1024)]).subarray(0, 1024), 1 << 20));
      clear(() => parseFatDirectory(buffer));
      clear(() => parseNtfsBootSector(buffer, 1 << 30));
      clear(() => decodeRuns(buffer, 0, 0));
      clear(() => parseAttributes(Buffer.concat([Buffer.from('FILE'), buffer])));
      clear(() => parseIndexEntries(buffer, buffer.readUInt8(0) % 64));
      assert.equal(parseGptHeader(buffer, 1 << 21) === null || typeof parseGptHeader(buffer, 1 << 21) === 'object', true);
    }),
    { numRuns: 300 },
  );
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 4096, maxLength: 8192 }), async (bytes) => {
      const disk = fuzzedDisk(Buffer.from(bytes));
      const table = await readPartitionTable(disk);
      for (const part of table.partitions) assert.ok(part.start + part.size <= disk.capacity, 'partitions stay inside the disk');
    }),
    { numRuns: 200 },
  );
});

/** ext4 as the kernel leaves it (loop mounts): inline data, and a copy taken while mounted whose
 * journal holds the newest metadata; with and without metadata_csum (then the journal has no
 * checksums, and damaged tags reach the replay itself). Returns the byte ranges worth damaging. */
async function kernelImages(): Promise<{ name: string; image: Buffer; from: number; length: number }[]> {
  const dir = await tempDir();
  const out: { name: string; image: Buffer; from: number; length: number }[] = [];
  for (const [name, options] of [
    ['inline+csum', ['-O', 'inline_data', '-I', '256', '-b', '1024']],
    ['inline', ['-O', 'inline_data,^metadata_csum', '-I', '256', '-b', '1024']],
  ] as const) {
    const image = join(dir, `${name}.img`);
    await makeExt4(image, 8, ...options);
    await withMount(image, 'rw', async (folder) => {
      await mkdir(join(folder, 'd/e'), { recursive: true });
      for (let index = 0; index < 8; index++) await writeFile(join(folder, `d/f${index}`), 'x'.repeat(index * 20));
      await symlink('f1', join(folder, 'd/link'));
    });
    // The inode table holds the inline data: damage there, from the root folder's inode on.
    const table = Number(/located at block (\d+)/.exec(debugfsRequest(image, 'imap <2>'))?.[1]) * 1024;
    out.push({ name, image: await readFile(image), from: table, length: 16 * 1024 });
    const copy = join(dir, `${name}-crash.img`);
    await withMount(image, 'rw', async (folder) => {
      await mkdir(join(folder, 'new'));
      for (let index = 0; index < 8; index++) await writeFile(join(folder, `new/g${index}`), 'y'.repeat(index * 300));
      execFileSync('rm', [join(folder, 'd/f2')]);
      execFileSync('sync', [join(folder, 'new'), join(folder, 'd'), join(folder, 'new/g7')]);
      await copyFile(image, copy);
    });
    const start = Number(debugfsRequest(copy, 'bmap <8> 0').trim()) * 1024;
    out.push({ name: `${name} journal`, image: await readFile(copy), from: start, length: 64 * 1024 });
  }
  return out;
}

test('ext4 inline data and journals to replay, damaged: data or a clear error, never a hang', async () => {
  for (const { name, image, from, length } of await kernelImages()) {
    const fs = await ExtFileSystem.open(fuzzedDisk(image));
    assert.ok((await walk(fs)) >= 10, `${name} walks whole`);
    if (name.endsWith('journal')) assert.match(fs.notes[0]?.text ?? '', /journal was replayed in memory/, `${name} needs its journal`);
    await fc.assert(
      fc.asyncProperty(edits, async (changes) => {
        const copy = Buffer.from(image);
        for (const [at, xor] of changes) copy[from + (at % length)] = (copy[from + (at % length)] as number) ^ xor;
        await survives(ExtFileSystem.open, copy);
      }),
      { numRuns: 120 },
    );
  }
});
