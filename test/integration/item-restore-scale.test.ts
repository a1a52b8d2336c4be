// Item restores of real ext4 images against what the Linux kernel shows through a loop mount of
// the same image: a folder of 20,000 files (hashed and linear folders), hard links restored as
// links (loose and in tar), sparse files restored sparse. No timing is asserted: the speed is
// `npm run bench` (LIFEBOAT_BENCH_ONLY=files-get).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { link, lstat, mkdir, open, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import { PointBrowser } from '../../electron/items/point-browser.ts';
import { RestoreItemsWork, type ItemRequest } from '../../electron/items/restore-items.ts';
import { quietHooks, type StepContext } from '../../electron/jobs/plan.ts';
import { makeExt4, run, withMount } from '../helpers/ext4-images.ts';
import { tempDir } from '../helpers/env.ts';

const FILES = 20_000;
const notRoot = process.getuid?.() !== 0 ? 'loop mounts need root' : false;

function context(log: string[]): StepContext {
  return {
    signal: new AbortController().signal,
    resources: { record: () => 0, update: () => undefined },
    progress: () => undefined,
    log: (message) => log.push(message),
    waiting: () => undefined,
    busy: () => undefined,
  };
}

/** Restores `paths` of the image (a volume without partition table: /disk0/part0). */
async function restore(
  image: string,
  paths: string[],
  targetPath: string,
  extra: Partial<ItemRequest> = {},
): Promise<Record<string, unknown>> {
  const browser = await PointBrowser.fromDisks([new BytesDisk(await readFile(image), image)]);
  const work = new RestoreItemsWork(async () => browser, { paths, targetPath, onClash: 'keep-both', keepSpecialBits: true, ...extra });
  const log: string[] = [];
  try {
    await work.plan.run(context(log), quietHooks);
  } finally {
    await work.finish();
  }
  return work.result();
}

/** `work` for every item, a batch at a time: 20,000 files one by one spend most of the test waiting. */
async function inBatches<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let at = 0; at < items.length; at += 64) out.push(...(await Promise.all(items.slice(at, at + 64).map(work))));
  return out;
}

/** "path type mode mtime size hash-or-target" for every entry under `base`, sorted. */
async function detailedTree(base: string, inner = ''): Promise<string[]> {
  const names = (await readdir(join(base, inner))).filter((name) => `${inner}/${name}` !== '/lost+found');
  const lines = await inBatches(names, async (name): Promise<string[]> => {
    const path = `${inner}/${name}`;
    const info = await lstat(join(base, path));
    const head = `${path} ${(info.mode & 0o7777).toString(8)} ${Math.floor(info.mtimeMs / 1000)}`;
    if (info.isDirectory()) return [`${head} dir`, ...(await detailedTree(base, path))];
    if (info.isSymbolicLink()) return [`${path} symlink ${await readlink(join(base, path))}`];
    const hash = createHash('sha256')
      .update(await readFile(join(base, path)))
      .digest('hex')
      .slice(0, 16);
    return [`${head} file ${info.size} ${hash}`];
  });
  return lines.flat().sort();
}

/** One guest folder of FILES files (two modes, sizes of 1 to 7 lines) and a subfolder, made once for both layouts. */
const seedRoot = await tempDir(); // removed after the whole file, not after the first test
let seeded: Promise<string> | null = null;
function seedFolder(): Promise<string> {
  seeded ??= (async () => {
    const seed = join(seedRoot, 'seed');
    await mkdir(join(seed, 'big', 'sub'), { recursive: true });
    await inBatches(
      Array.from({ length: FILES }, (_, i) => i),
      (i) => writeFile(join(seed, 'big', `f${i}.txt`), `file ${i}\n`.repeat(1 + (i % 7)), { mode: i % 3 === 0 ? 0o600 : 0o644 }),
    );
    await writeFile(join(seed, 'big', 'sub', 'inner.txt'), 'inside');
    return seed;
  })();
  return seeded;
}

for (const layout of ['hashed', 'linear'] as const) {
  test(`a folder of ${FILES} files in a ${layout} ext4 folder restores as the kernel shows it`, { skip: notRoot }, async () => {
    const dir = await tempDir();
    const seed = await seedFolder();
    const image = join(dir, `${layout}.img`);
    await makeExt4(image, 160, '-N', String(FILES + 1000), ...(layout === 'linear' ? ['-O', '^dir_index'] : []), '-d', seed);
    const features = run('dumpe2fs', '-h', image);
    assert.equal(/dir_index/.test(features.split('\n').find((line) => line.startsWith('Filesystem features')) ?? ''), layout === 'hashed');
    const out = join(dir, 'out');
    const result = await restore(image, ['/disk0/part0/big'], out);
    assert.equal(result.copied, FILES + 3);
    assert.equal(result.unreadable, 0);
    const expected = await withMount(image, 'ro', (mounted) => detailedTree(join(mounted, 'big')));
    assert.equal(expected.length, FILES + 2);
    assert.deepEqual(await detailedTree(join(out, 'big')), expected);
  });
}

/** A volume populated through the kernel: hard links (within a folder and across folders), a
 * sparse file with data between holes and a hole at its end, and a plain file. */
async function linkedAndSparse(dir: string): Promise<string> {
  const image = join(dir, 'links.img');
  await makeExt4(image, 64);
  await withMount(image, 'rw', async (mounted) => {
    await mkdir(join(mounted, 'data', 'other'), { recursive: true });
    await writeFile(join(mounted, 'data', 'original.txt'), 'one file, three names\n');
    await link(join(mounted, 'data', 'original.txt'), join(mounted, 'data', 'second.txt'));
    await link(join(mounted, 'data', 'original.txt'), join(mounted, 'data', 'other', 'third.txt'));
    await writeFile(join(mounted, 'data', 'plain.txt'), 'one name\n');
    const sparse = await open(join(mounted, 'data', 'sparse.bin'), 'w');
    await sparse.write(Buffer.alloc(8192, 0x61), 0, 8192, 0);
    await sparse.write(Buffer.alloc(4096, 0x62), 0, 4096, 16 * 1024 * 1024);
    await sparse.truncate(40 * 1024 * 1024);
    await sparse.close();
  });
  return image;
}

test('hard links come back as links and sparse files as sparse, as the kernel shows them', { skip: notRoot }, async () => {
  const dir = await tempDir();
  const image = await linkedAndSparse(dir);
  const source = await withMount(image, 'ro', async (mounted) => ({
    tree: await detailedTree(join(mounted, 'data')),
    sparseBlocks: (await stat(join(mounted, 'data', 'sparse.bin'))).blocks,
    links: (await stat(join(mounted, 'data', 'original.txt'))).nlink,
  }));
  assert.equal(source.links, 3);
  const out = join(dir, 'out');
  const result = await restore(image, ['/disk0/part0/data'], out);
  assert.equal(result.unreadable, 0);
  assert.deepEqual(await detailedTree(join(out, 'data')), source.tree);

  const names = ['original.txt', 'second.txt', 'other/third.txt'].map((name) => join(out, 'data', name));
  const restored = await Promise.all(names.map((name) => stat(name)));
  assert.ok(
    restored.every((info) => info.ino === restored[0]?.ino && info.nlink === 3),
    'three names of one inode',
  );
  assert.equal((await stat(join(out, 'data', 'plain.txt'))).nlink, 1);

  // Holes are not written: the restored file takes what the source takes (the target is not ext4
  // everywhere, so allow its own block rounding), far less than its 40 MiB.
  const sparse = await stat(join(out, 'data', 'sparse.bin'));
  assert.equal(sparse.size, 40 * 1024 * 1024);
  assert.ok(
    sparse.blocks * 512 <= Math.max(source.sparseBlocks * 512, 64 * 1024) * 2,
    `${sparse.blocks} blocks restored, ${source.sparseBlocks} in the source`,
  );

  // A picked file with other names outside the pick is written as a file of its own.
  const single = join(dir, 'single');
  await restore(image, ['/disk0/part0/data/second.txt'], single);
  assert.equal((await stat(join(single, 'second.txt'))).nlink, 1);
  assert.equal(await readFile(join(single, 'second.txt'), 'utf8'), 'one file, three names\n');
});

test(
  'a tar of hard links holds one copy of the bytes and link entries; a zip holds the bytes under each name',
  { skip: notRoot },
  async () => {
    const dir = await tempDir();
    const image = await linkedAndSparse(dir);
    const out = join(dir, 'out');
    await restore(image, ['/disk0/part0/data'], out, { archive: 'tar', archiveName: 'items' });
    const listing = execFileSync('tar', ['-tvf', join(out, 'items.tar')], { encoding: 'utf8' });
    const lines = listing.split('\n').filter((line) => line.includes('.txt'));
    const linked = lines.filter((line) => / link to /.test(line));
    assert.equal(linked.length, 2, listing);
    assert.ok(
      linked.every(
        (line) =>
          line.endsWith('link to data/original.txt') ||
          line.endsWith('link to data/second.txt') ||
          line.endsWith('link to data/other/third.txt'),
      ),
      listing,
    );
    const unpacked = join(dir, 'unpacked');
    await mkdir(unpacked);
    execFileSync('tar', ['-xf', join(out, 'items.tar'), '-C', unpacked]);
    const [a, b, c] = await Promise.all(
      ['original.txt', 'second.txt', 'other/third.txt'].map((name) => stat(join(unpacked, 'data', name))),
    );
    assert.ok(a && b && c && a.ino === b.ino && b.ino === c.ino, 'tar makes them one file again');
    assert.equal(await readFile(join(unpacked, 'data', 'other', 'third.txt'), 'utf8'), 'one file, three names\n');

    await restore(image, ['/disk0/part0/data'], out, { archive: 'zip', archiveName: 'items' });
    const zipped = join(dir, 'unzipped');
    await mkdir(zipped);
    execFileSync('unzip', ['-q', join(out, 'items.zip'), '-d', zipped]);
    for (const name of ['original.txt', 'second.txt', 'other/third.txt'])
      assert.equal(await readFile(join(zipped, 'data', name), 'utf8'), 'one file, three names\n');
  },
);
