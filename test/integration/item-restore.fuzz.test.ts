// Item restores of damaged real ext4 and FAT images (mke2fs -d with hard links and a sparse file;
// mkfs.fat + mcopy): whatever the damage, the restore ends within a bounded time, either done or
// with a clear read failure, and writes nothing outside its target. This is what the folder
// caches and the hard-link bookkeeping of a restore meet when names, inode numbers and link
// counts are damaged.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { link, mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import { isReadFailure } from '../../electron/filesystems/file-system.ts';
import { PointBrowser } from '../../electron/items/point-browser.ts';
import { RestoreItemsWork } from '../../electron/items/restore-items.ts';
import { quietHooks, type StepContext } from '../../electron/jobs/plan.ts';
import { tempDir } from '../helpers/env.ts';

const fuzzedDisk = (bytes: Buffer): BytesDisk => new BytesDisk(bytes, 'fuzzed image');

// Generous: the bound catches a hang or a quadratic walk, not a slow shared machine.
const MAX_RESTORE_MS = 20_000;

const context: StepContext = {
  signal: new AbortController().signal,
  resources: { record: () => 0, update: () => undefined },
  progress: () => undefined,
  log: () => undefined,
  waiting: () => undefined,
  busy: () => undefined,
};

async function seed(dir: string): Promise<string> {
  const files = join(dir, 'files');
  await mkdir(join(files, 'd', 'e'), { recursive: true });
  for (let i = 0; i < 40; i++) await writeFile(join(files, 'd', `f${i}.txt`), `file ${i}\n`.repeat(i % 9));
  await writeFile(join(files, 'd', 'linked.txt'), 'one file, two names\n');
  await link(join(files, 'd', 'linked.txt'), join(files, 'd', 'e', 'again.txt'));
  const sparse = await open(join(files, 'd', 'sparse.bin'), 'w');
  await sparse.write(Buffer.alloc(4096, 1), 0, 4096, 256 * 1024);
  await sparse.truncate(1024 * 1024);
  await sparse.close();
  return files;
}

const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 16 });

function damage(image: Buffer, changes: [number, number][], within: number): Buffer {
  const copy = Buffer.from(image);
  for (const [at, value] of changes) copy[1024 + (at % (within - 1024))] = value;
  return copy;
}

async function restoreSurvives(image: Buffer, out: string, canary: string): Promise<void> {
  const started = performance.now();
  await rm(out, { recursive: true, force: true });
  try {
    const browser = await PointBrowser.fromDisks([fuzzedDisk(image)]);
    const work = new RestoreItemsWork(async () => browser, { paths: ['/disk0/part0/d'], targetPath: out, onClash: 'keep-both' });
    try {
      await work.plan.run(context, quietHooks);
    } finally {
      await work.finish();
    }
  } catch (error) {
    assert.ok(isReadFailure(error), `unexpected ${(error as Error).constructor.name}: ${(error as Error).message}`);
  }
  assert.ok(performance.now() - started < MAX_RESTORE_MS, 'a damaged image must not hang the restore');
  assert.deepEqual(await readdir(canary), ['keep.txt']);
}

test('restores of damaged ext4 and FAT images end with data or a read failure, never a hang or a write outside', async () => {
  const dir = await tempDir();
  const files = await seed(dir);
  const canary = join(dir, 'canary');
  await mkdir(canary);
  await writeFile(join(canary, 'keep.txt'), 'canary');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', files, join(dir, 'ext4.img'), '4M'], { stdio: 'ignore' });
  execFileSync('mkfs.fat', ['-C', join(dir, 'fat.img'), '2048'], { stdio: 'ignore' });
  execFileSync('mcopy', ['-i', join(dir, 'fat.img'), '-s', join(files, 'd'), '::/'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  const ext4 = await readFile(join(dir, 'ext4.img'));
  const fat = await readFile(join(dir, 'fat.img'));
  const out = join(dir, 'out');

  // Undamaged, the hard link comes back as one file of two names.
  await restoreSurvives(ext4, out, canary);
  const [a, b] = await Promise.all([stat(join(out, 'd', 'linked.txt')), stat(join(out, 'd', 'e', 'again.txt'))]);
  assert.equal(a.ino, b.ino);

  await fc.assert(
    fc.asyncProperty(edits, async (changes) => restoreSurvives(damage(ext4, changes, 256 * 1024), out, canary)),
    { numRuns: 40 },
  );
  await fc.assert(
    fc.asyncProperty(edits, async (changes) => restoreSurvives(damage(fat, changes, 64 * 1024), out, canary)),
    { numRuns: 40 },
  );
});
