// The contained writer on its own, against the real file system: existing links in the target
// are replaced or stepped around, never followed; a folder swapped for a link while the restore
// runs stops it without leaving anything where the link leads; holes stay holes; a discarded
// restore takes back what it made; the home and repositories are never written into.
import assert from 'node:assert/strict';
import { lstat, mkdir, readdir, readFile, readlink, rename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { ContainedWriter, type ClashPolicy } from '../../electron/fs/contained-writer.ts';
import type { FileRegion } from '../../electron/filesystems/file-system.ts';
import { tempDir } from '../helpers/env.ts';

const options = (onClash: ClashPolicy, protectedPaths: string[] = []) => ({ onClash, keepSpecialBits: false, protectedPaths });

async function* regions(...parts: FileRegion[]): AsyncGenerator<FileRegion> {
  yield* parts;
}

async function setUp(): Promise<{ dir: string; root: string; canary: string }> {
  const dir = await tempDir();
  const canary = join(dir, 'canary');
  await mkdir(canary);
  await writeFile(join(canary, 'keep.txt'), 'canary');
  return { dir, root: join(dir, 'root'), canary };
}

test('an existing link in the target is replaced (overwrite) or stepped around (keep-both), never written through', async () => {
  const { root, canary } = await setUp();
  await mkdir(root);
  await symlink(canary, join(root, 'name'));
  await symlink(join(canary, 'keep.txt'), join(root, 'file.txt'));
  const keepBoth = await ContainedWriter.open(root, options('keep-both'));
  const folder = await keepBoth.place(null, 'name', true);
  assert.equal(folder?.path, join(root, 'name (restored)'));
  await keepBoth.directory(folder?.path as string, null, 0o755);
  await keepBoth.file(join(folder?.path as string, 'keep.txt'), 5, null, 0o644, regions(Buffer.from('guest')));
  await keepBoth.close();
  const overwrite = await ContainedWriter.open(root, options('overwrite'));
  const over = await overwrite.place(null, 'file.txt', false);
  assert.equal(over?.path, join(root, 'file.txt'));
  await overwrite.file(over?.path as string, 5, null, 0o644, regions(Buffer.from('guest')));
  const dirOverLink = await overwrite.place(null, 'name', true);
  await overwrite.directory(dirOverLink?.path as string, null, null);
  await overwrite.file(join(dirOverLink?.path as string, 'keep.txt'), 5, null, null, regions(Buffer.from('guest')));
  await overwrite.close();
  assert.equal(await readFile(join(canary, 'keep.txt'), 'utf8'), 'canary');
  assert.deepEqual(await readdir(canary), ['keep.txt']);
  assert.ok((await lstat(join(root, 'name'))).isDirectory() && (await lstat(join(root, 'file.txt'))).isFile());
});

test('a folder swapped for a link while the restore runs stops it; nothing is left where the link leads', async () => {
  const { dir, root, canary } = await setUp();
  const writer = await ContainedWriter.open(root, options('keep-both'));
  const folder = (await writer.place(null, 'd', true))?.path as string;
  await writer.directory(folder, null, 0o755);
  await rename(folder, join(dir, 'moved-away'));
  await symlink(canary, folder);
  await assert.rejects(writer.file(join(folder, 'evil'), 4, null, 0o644, regions(Buffer.from('evil'))), {
    code: 'conflict',
    message: /swapped for a link/,
  });
  writer.symlink(join(folder, 'link'), '/etc/passwd', null);
  await assert.rejects(writer.close(), { code: 'conflict' });
  await writer.discard();
  assert.deepEqual(await readdir(canary), ['keep.txt']);
  assert.equal(await readlink(folder), canary, "the swapped link itself is not the writer's to remove");
});

test('holes stay holes; special bits are dropped; a discarded restore takes back what it made, the root included', async () => {
  const { dir, root } = await setUp();
  const writer = await ContainedWriter.open(root, options('keep-both'));
  const big = (await writer.place(null, 'sparse.bin', false))?.path as string;
  const size = 2 ** 34 + 3;
  await writer.file(
    big,
    size,
    new Date('2020-01-02T03:04:05Z'),
    0o4755,
    regions({ hole: 2 ** 33 }, Buffer.alloc(1 << 20), Buffer.from('data'), { hole: 2 ** 33 - (1 << 20) - 1 }),
  );
  const info = await stat(big);
  assert.equal(info.size, size);
  assert.ok(info.blocks * 512 <= 64 * 1024, `${info.blocks * 512} bytes on disk`);
  assert.equal(info.mode & 0o7777, 0o755);
  assert.equal(info.mtime.toISOString(), '2020-01-02T03:04:05.000Z');
  const folder = (await writer.place(null, 'folder', true))?.path as string;
  await writer.directory(folder, null, 0o555);
  await writer.file(join(folder, 'inside'), 1, null, 0o644, regions(Buffer.from('x')));
  writer.symlink(join(folder, 'link'), 'inside', null);
  await writer.close();
  assert.equal((await stat(folder)).mode & 0o777, 0o555, 'a read-only folder still got its children first');
  await writer.discard();
  assert.deepEqual(await readdir(dir), ['canary'], 'the root it made is gone too');
});

test('the home or a repository below the target is never merged into or replaced; a second entry of one name is renamed', async () => {
  const { root } = await setUp();
  const home = join(root, 'Lifeboat');
  await mkdir(home, { recursive: true });
  await writeFile(join(home, 'catalog.sqlite'), 'catalog');
  const writer = await ContainedWriter.open(root, options('overwrite', [home]));
  assert.equal((await writer.place(null, 'Lifeboat', true))?.path, join(root, 'Lifeboat (restored)'));
  assert.equal((await writer.place(null, 'twice', false))?.path, join(root, 'twice'));
  const second = await writer.place(null, 'twice', false);
  assert.equal(second?.path, join(root, 'twice (duplicate)'));
  assert.match(second?.note ?? '', /another entry of that name/);
  await assert.rejects(writer.place(null, '../x', false), { code: 'internal' });
  assert.equal(await readFile(join(home, 'catalog.sqlite'), 'utf8'), 'catalog');
});

test('a hard link is made only to a file this writer wrote, still in place; a swapped folder or file stops it', async () => {
  const { dir, root, canary } = await setUp();
  const writer = await ContainedWriter.open(root, options('keep-both'));
  const first = join(root, 'first.txt');
  await writer.file(first, 5, null, 0o644, regions(Buffer.from('guest')));
  await writer.directory(join(root, 'sub'), null, 0o755);
  assert.equal(await writer.link(join(root, 'sub', 'second.txt'), first), true);
  const [a, b] = await Promise.all([stat(first), stat(join(root, 'sub', 'second.txt'))]);
  assert.equal(a.ino, b.ino);
  assert.equal(a.nlink, 2);
  await assert.rejects(writer.link(join(root, 'third.txt'), join(canary, 'keep.txt')), /not written by this restore/);

  // The first name replaced by another file (not ours): never linked to.
  await rename(first, join(dir, 'moved.txt'));
  await writeFile(first, 'not ours');
  await assert.rejects(writer.link(join(root, 'third.txt'), first), { code: 'conflict', message: /was replaced/ });
  // The folder of the new name swapped for a link out of the target.
  const again = join(root, 'again.txt');
  await writer.file(again, 5, null, 0o644, regions(Buffer.from('guest')));
  await rename(join(root, 'sub'), join(dir, 'sub-moved'));
  await symlink(canary, join(root, 'sub'));
  await assert.rejects(writer.link(join(root, 'sub', 'fourth.txt'), again), { code: 'conflict', message: /swapped for a link/ });
  assert.deepEqual(await readdir(canary), ['keep.txt']);
  await writer.discard();
  assert.deepEqual(await readdir(canary), ['keep.txt']);
});
