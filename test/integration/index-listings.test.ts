// `files ls` answers from the point's file index, which every backup fills, and the answer is
// the listing the point's own disks give, checked against the kernel: an ext4 volume made by
// mke2fs from a folder with hostile names (a line break, a right-to-left override, emoji, blanks
// at either end, 255 bytes), symlinks (inline and in a block), a FIFO and a device node, times
// to the millisecond before 1970 and after 2038 (set by the kernel), an empty folder and a hashed
// folder of 3,000 entries. A fresh engine answers it without reading a block of the point; the
// CLI gets a listing of more than 1 MiB from the running engine whole. Points whose folders the
// index cannot give back as listed (a name twice in one folder, a name holding '/', both made by
// patching a folder block as damage would) are listed from their disks, and the index job says so.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { lstat, mkdir, open, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import type { Engine } from '../../electron/engine/engine.ts';
import type { FileEntry } from '../../shared/domain.ts';
import { debugfsRequest, run, withMount } from '../helpers/ext4-images.ts';
import { makeVmFolder, openEngine, runJob, tempDir } from '../helpers/env.ts';

const skip = process.getuid?.() === 0 ? false : 'the kernel view needs a loop mount, and the device node mknod: root';
const VOLUME = '/disk0/part0';
const WIDE = 4500;
const CLI = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
const HOSTILE = [
  'line\nbreak',
  '\u202egnp.exe',
  '😀 emoji',
  ' lead',
  'trail ',
  'back\\slash',
  '*?[',
  'x'.repeat(255),
  'Ä-nfc',
  'A-nfd\u0308',
];
/** mtimes to the millisecond, in seconds as `touch -d @` takes them: before 1970, at it, after 2038. */
const TIMES = [-1_234_567.75, 0, 1_700_000_000.125, 2_200_000_000.5];

/** The folder mke2fs -d copies into the image. */
async function stage(folder: string): Promise<void> {
  await mkdir(join(folder, 'etc'), { recursive: true });
  await mkdir(join(folder, 'empty'));
  await mkdir(join(folder, 'many'));
  await writeFile(join(folder, 'etc', 'hostname'), 'listings\n');
  await writeFile(join(folder, 'etc', 'motd'), 'welcome\n');
  await writeFile(join(folder, 'etc', 'motX'), 'to be damaged\n');
  for (const [i, name] of HOSTILE.entries()) await writeFile(join(folder, 'etc', name), `${i}\n`.repeat(i));
  await symlink('hostname', join(folder, 'etc', 'inline-link'));
  await symlink(`/srv/${'long-target/'.repeat(12)}end`, join(folder, 'etc', 'block-link'));
  run('mkfifo', join(folder, 'etc', 'fifo'));
  run('mknod', join(folder, 'etc', 'null'), 'c', '1', '3');
  for (const [i] of TIMES.entries()) await writeFile(join(folder, 'etc', `dated-${i}`), 'dated\n');
  for (let i = 0; i < 3000; i++) await writeFile(join(folder, 'many', `entry-${i}.conf`), i % 5 === 0 ? '' : `value ${i}\n`);
  // Long names: the listing is well over the 1 MiB a request may hold.
  await mkdir(join(folder, 'wide'));
  for (let i = 0; i < WIDE; i++) await writeFile(join(folder, 'wide', `${'w'.repeat(240)}-${i}`), '');
}

/** The CLI (from source) against the engine serving `home`: its exit code and standard output. */
function lifeboat(home: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--home', home, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Times set by the kernel in the mounted image (mke2fs -d keeps whole seconds, and stores
 * seconds past 2038 as 1903): the dated files', a symlink's and a folder's. */
async function dateThroughKernel(image: string): Promise<void> {
  await withMount(image, 'rw', async (mounted) => {
    // touch, not utimes: Node takes a negative time for now.
    for (const [i, seconds] of TIMES.entries()) run('touch', '-m', '-d', `@${seconds}`, join(mounted, 'etc', `dated-${i}`));
    run('touch', '-h', '-m', '-d', '@1600000000.5', join(mounted, 'etc', 'block-link'));
    run('touch', '-m', '-d', '@1650000000.25', join(mounted, 'many'));
  });
}

/** A folder as the kernel lists it, in the contract's form and name order (UTF-16 code units). */
async function kernelListing(folder: string): Promise<FileEntry[]> {
  const names = (await readdir(folder)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const entries: FileEntry[] = [];
  for (const name of names) {
    const path = join(folder, name);
    const info = await lstat(path, { bigint: true });
    const type = info.isFile() ? 'file' : info.isDirectory() ? 'dir' : info.isSymbolicLink() ? 'symlink' : 'other';
    const ns = info.mtimeNs;
    const ms = Number(ns / 1_000_000n - (ns % 1_000_000n < 0n ? 1n : 0n)); // floor, before 1970 too
    entries.push({
      name,
      type,
      size: type === 'dir' ? 0 : Number(info.size), // a folder's size is not shown
      mtime: new Date(ms).toISOString(),
      mode: Number(info.mode & 0o7777n),
      ...(type === 'symlink' ? { target: await readlink(path) } : {}),
    });
  }
  return entries;
}

const list = (engine: Engine, path: string, point = 'latest', fromPoint = false): Promise<FileEntry[]> =>
  engine.files.list('listings', point, path, { fromPoint });

/** Patches the name `from` in `folder`'s first block of the image to `to` (the same length), as
 * damage would; the file system is made without metadata checksums, so nothing else tells. */
async function renameInPlace(image: string, folder: string, from: string, to: string): Promise<void> {
  const blockSize = Number(/Block size:\s+(\d+)/.exec(run('dumpe2fs', '-h', image))?.[1]);
  const block = Number(debugfsRequest(image, `blocks ${folder}`).trim().split(/\s+/)[0]);
  const handle = await open(image, 'r+');
  try {
    const bytes = Buffer.alloc(blockSize);
    await handle.read(bytes, 0, blockSize, block * blockSize);
    const at = bytes.indexOf(from);
    assert.ok(at > 0, `${from} is in ${folder}'s first block`);
    await handle.write(Buffer.from(to), 0, to.length, block * blockSize + at);
  } finally {
    await handle.close();
  }
}

/** Backs the VM up; the index job the backup queued, once it ended. */
async function backUp(engine: Engine, source: string): Promise<{ state: string; log: string[] }> {
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  await engine.jobs.idle();
  const index = engine.catalog.listJobs().find((job) => job.kind === 'index');
  assert.ok(index);
  return { state: index.state, log: engine.catalog.jobEvents(index.id).map((event) => event.message) };
}

test('files ls answers from the index as the point and the kernel list each folder', { skip }, async (t) => {
  const dir = await tempDir();
  const staged = join(dir, 'staged');
  await stage(staged);
  const image = join(dir, 'root.ext4');
  run('mke2fs', '-q', '-F', '-t', 'ext4', '-O', '^metadata_csum', '-I', '256', '-N', '16384', '-d', staged, image, '48M');
  await dateThroughKernel(image);
  const source = join(dir, 'source');
  await mkdir(source);
  await makeVmFolder(source, 'listings', image, 'monolithicSparse');
  const home = join(dir, 'home');
  const first = await openEngine(home);
  const indexed = await backUp(first, source);
  assert.equal(indexed.state, 'succeeded');
  const pointId = first.lookup.resolvePointId(first.lookup.resolveVm('listings').id, 'latest');
  assert.notEqual(first.catalog.files.listings(pointId), null, 'the backup indexed the point in the listing form');

  await t.test('every folder from the index equals the point read and the kernel', async () => {
    const folders = ['', '/etc', '/empty', '/many', '/wide'];
    await withMount(image, 'ro', async (mounted) => {
      for (const folder of folders) {
        const answered = await list(first, `${VOLUME}${folder}`);
        assert.deepEqual(answered, await list(first, `${VOLUME}${folder}`, 'latest', true), `${folder || '/'}: index and point`);
        const kernel = (await kernelListing(join(mounted, folder))).filter((entry) => entry.name !== 'lost+found');
        assert.deepEqual(
          answered.filter((entry) => entry.name !== 'lost+found'),
          kernel,
          `${folder || '/'}: index and kernel`,
        );
      }
    });
    const etc = await list(first, `${VOLUME}/etc`);
    assert.deepEqual(
      etc.filter((entry) => entry.name.startsWith('dated-')).map((entry) => entry.mtime),
      TIMES.map((seconds) => new Date(Math.round(seconds * 1000)).toISOString()),
      'mtimes to the millisecond, before 1970 too',
    );
    assert.equal((await list(first, `${VOLUME}/many`)).length, 3000);
    for (const path of ['/', '/disk0']) assert.deepEqual(await list(first, path), await list(first, path, 'latest', true), path);
  });
  await t.test('lifeboat files ls of a folder whose listing is over 1 MiB, against the running engine', async () => {
    const listed = await lifeboat(home, 'files', 'ls', 'listings', '--point', 'latest', `${VOLUME}/wide`, '--json');
    assert.equal(listed.status, 0, listed.stderr);
    assert.ok(listed.stdout.length > 1024 * 1024, `${listed.stdout.length} characters of JSON`);
    const entries = JSON.parse(listed.stdout) as FileEntry[];
    assert.equal(entries.length, WIDE);
    assert.deepEqual(entries, await list(first, `${VOLUME}/wide`));
    const read = await lifeboat(home, 'files', 'ls', 'listings', '--point', 'latest', `${VOLUME}/etc`, '--json', '--from-point');
    assert.equal(read.status, 0, read.stderr);
    assert.deepEqual(JSON.parse(read.stdout), await list(first, `${VOLUME}/etc`), '--from-point gives the same listing');
    const both = await lifeboat(home, 'files', 'ls', 'listings', '--point', 'latest', `${VOLUME}/etc`, '--from-index', '--from-point');
    assert.deepEqual([both.status, both.stdout], [2, '']);
    assert.match(both.stderr, /files ls takes --from-index or --from-point, not both/);
  });
  await t.test('restored files keep their mtimes before 1970 and after 2038, to the millisecond', async () => {
    const out = join(dir, 'restored');
    const paths = TIMES.map((_, i) => `${VOLUME}/etc/dated-${i}`);
    const job = await runJob(
      first,
      await first.files.startItemRestore(
        { vm: 'listings', point: 'latest', paths, target: { kind: 'local', path: out }, onClash: 'overwrite' },
        'test',
      ),
    );
    assert.equal(job.state, 'succeeded', job.error ?? '');
    const restored = await Promise.all(TIMES.map(async (_, i) => (await lstat(join(out, `dated-${i}`))).mtimeMs));
    assert.deepEqual(
      restored,
      TIMES.map((seconds) => seconds * 1000),
    );
  });
  await first.close();

  await t.test('a fresh engine answers from the index without reading a block of the point', async () => {
    const fresh = await openEngine(home);
    try {
      for (const path of ['/', '/disk0', VOLUME, `${VOLUME}/etc`, `${VOLUME}/many`]) await list(fresh, path);
      assert.equal(fresh.blockCache.stats().loads, 0, 'no block of the point was read');
      await list(fresh, `${VOLUME}/etc`, 'latest', true);
      assert.ok(fresh.blockCache.stats().loads > 0, '--from-point reads the point');
    } finally {
      await fresh.close();
    }
  });

  for (const damage of [
    { what: 'a name twice in one folder', to: 'motd', reason: `${VOLUME}/etc names "motd" twice` },
    { what: "a name holding '/'", to: 'mo/X', reason: `${VOLUME}/etc holds an entry named "mo/X"` },
  ])
    await t.test(`a point with ${damage.what} is listed from its disks, and its index job says why`, async () => {
      execFileSync('cp', [image, `${image}.damaged`]);
      await renameInPlace(`${image}.damaged`, '/etc', 'motX', damage.to);
      await makeVmFolder(source, 'listings', `${image}.damaged`, 'monolithicSparse');
      const engine = await openEngine(home);
      try {
        const job = await backUp(engine, source);
        assert.equal(job.state, 'succeeded');
        assert.ok(job.log.includes(`listings of this point read its disks, not the index: ${damage.reason}`), job.log.join('\n'));
        const damagedId = engine.lookup.resolvePointId(engine.lookup.resolveVm('listings').id, 'latest');
        assert.equal(engine.catalog.files.listings(damagedId), null);
        const etc = await list(engine, `${VOLUME}/etc`);
        assert.ok(isDeepStrictEqual(etc, await list(engine, `${VOLUME}/etc`, 'latest', true)));
        assert.equal(etc.filter((entry) => entry.name === damage.to).length, damage.to === 'motd' ? 2 : 1, 'the damaged name is listed');
        assert.ok(engine.blockCache.stats().loads > 0, 'read from the point');
        assert.equal(engine.files.search('hostname', 'listings').hits.length, 1, 'and still searchable');
      } finally {
        await engine.close();
      }
    });
});
