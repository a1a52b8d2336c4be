// Item-level reads do not fail wholesale: a backed-up VM whose disk holds a damaged inode, a
// damaged folder block and an unreadable volume is still indexed and browsed everywhere else;
// what was left out is kept with its reason and shown by the index job, `files search` and
// `files ls`. A volume marked dirty is indexed and said to be maybe stale. The damage is made with
// the real tools' own coordinates (debugfs imap/blocks, the NTFS boot sector and $Volume record),
// and the kernel agrees the damaged parts are unreadable.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import type { Job } from '../../shared/domain.ts';
import { NtfsFileSystem } from '../../electron/filesystems/ntfs.ts';
import { buildGuestDisk, spliceAll } from '../../electron/lab/guest-disk.ts';
import { debugfsRequest, run, withMount } from '../helpers/ext4-images.ts';
import { makeVmFolder, openEngine, runJob, tempDir, writeNtfsMbrDisk } from '../helpers/env.ts';

const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');

/** The CLI against this process's engine (over its socket), asynchronously so the engine answers. */
const lifeboat = (home: string, ...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    execFile(process.execPath, [cli, '--home', home, ...args], { encoding: 'utf8', timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });

const overwrite = (image: string, offset: number, bytes: Buffer): void => {
  execFileSync('dd', [`of=${image}`, 'bs=1', `seek=${offset}`, 'conv=notrunc'], { input: bytes, stdio: ['pipe', 'ignore', 'ignore'] });
};

/** Backs the VM folder up and waits for the index job the backup queued; returns that job. */
async function backUpThenIndex(engine: Engine, source: string): Promise<Job | undefined> {
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  await engine.jobs.idle();
  return engine.catalog.listJobs().find((job) => job.kind === 'index');
}

test('a damaged inode, folder block and volume are left out with their reasons; everything else is indexed', async () => {
  const dir = await tempDir();
  const work = join(dir, 'work');
  await mkdir(work);
  const layout = await buildGuestDisk(work, 'damaged', 48);
  const ext4 = layout.ext4.image;
  const blockSize = Number(/Block size:\s+(\d+)/.exec(run('dumpe2fs', '-h', ext4))?.[1]);
  // One inode: /etc/hostname's, where debugfs imap says it lies; its size field changed, so its
  // metadata_csum checksum no longer matches.
  const imap = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(debugfsRequest(ext4, 'imap /etc/hostname'));
  assert.ok(imap, 'debugfs located the inode');
  overwrite(ext4, Number(imap[1]) * blockSize + Number.parseInt(imap[2] as string, 16) + 4, Buffer.from([0x77, 0x77]));
  // One folder block: /var/log's first block, zeroed.
  const logBlock = Number(debugfsRequest(ext4, 'blocks /var/log').trim().split(/\s+/)[0]);
  overwrite(ext4, logBlock * blockSize, Buffer.alloc(blockSize));
  // One volume: the FAT partition's boot sector, zeroed.
  overwrite(layout.fat.image, 0, Buffer.alloc(512));
  await spliceAll(layout);

  // The kernel agrees: the inode is refused, the folder cannot be listed, the rest reads.
  await withMount(ext4, 'ro,noload', async (folder) => {
    await assert.rejects(lstat(join(folder, 'etc/hostname')));
    await assert.rejects(readdir(join(folder, 'var/log')));
    assert.equal(await readFile(join(folder, 'etc/motd'), 'utf8'), 'Welcome to damaged, a Lifeboat lab VM.\n');
  });

  const source = join(dir, 'source');
  await mkdir(source);
  await makeVmFolder(source, 'damaged', layout.rawPath, 'monolithicFlat');
  const home = join(dir, 'home');
  const engine = await openEngine(home);
  try {
    const indexJob = await backUpThenIndex(engine, source);
    assert.equal(indexJob?.state, 'succeeded', indexJob?.error ?? '');
    assert.equal(indexJob?.result?.unreadable, 3);
    const log = engine.catalog
      .jobEvents(indexJob?.id as string)
      .map((event) => `${event.level} ${event.message}`)
      .join('\n');
    assert.match(log, /warning \d+ path\(s\) indexed; 3 could not be read/);
    assert.match(log, /not indexed: \/disk0\/part1\/etc\/hostname: not a usable ext2\/3\/4 file system \(inode 13 fails its checksum/);
    assert.match(log, /not indexed: \/disk0\/part1\/var\/log: its contents could not be read/);
    assert.match(log, /not indexed: \/disk0\/part2: unknown or damaged file system/);

    // Everything readable is in the index, nothing from the damaged parts.
    const search = (pattern: string) => engine.files.search(pattern, 'damaged');
    assert.deepEqual(
      search('motd').hits.map((hit) => hit.path),
      ['/disk0/part1/etc/motd'],
    );
    assert.deepEqual(
      search('notes.txt').hits.map((hit) => hit.path),
      ['/disk0/part1/home/operator/notes.txt'],
    );
    assert.deepEqual(search('hostname').hits, []);
    assert.deepEqual(search('service.log').hits, []);
    const [gaps] = search('hostname').gaps;
    assert.equal(gaps?.unreadable, 3);
    assert.deepEqual(gaps?.gaps.map((gap) => [gap.path, gap.kind]).sort(), [
      ['/disk0/part1/etc/hostname', 'unreadable'],
      ['/disk0/part1/var/log', 'unreadable'],
      ['/disk0/part2', 'unreadable'],
    ]);

    // The CLI says so: search prints the gaps, ls names the unreadable entry in its folder.
    const searched = await lifeboat(home, 'files', 'search', 'hostname');
    assert.equal(searched.status, 0, searched.stderr);
    assert.match(
      searched.stdout,
      /no file of that name in the index\nnote: 3 entries of VM damaged point 1 could not be read: .*\/disk0\/part1\/etc\/hostname \(not a usable ext2\/3\/4 file system \(inode 13 fails its checksum/,
    );
    const listed = await lifeboat(home, 'files', 'ls', 'damaged', '--point', 'latest', '/disk0/part1/etc');
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /other\s+hostname \(could not be read: not a usable ext2\/3\/4 file system \(inode 13 fails its checksum/);
    assert.match(listed.stdout, /file\s+\S+ B\s+\S+\s+motd/);
    const volumes = await lifeboat(home, 'files', 'ls', 'damaged', '--point', 'latest', '/disk0');
    assert.match(volumes.stdout, /other\s+part2 \(could not be read: unknown or damaged file system/);
    const folder = await lifeboat(home, 'files', 'ls', 'damaged', '--point', 'latest', '/disk0/part1/var/log');
    assert.equal(folder.status, 2, 'one clear error, not an internal one');
    assert.match(folder.stderr, /damaged entry/);

    // From the index, without opening the point: what it holds, and what it left out, there.
    const fromIndex = (path: string) => lifeboat(home, 'files', 'ls', 'damaged', '--point', 'latest', path, '--from-index');
    const etc = await fromIndex('/disk0/part1/etc');
    assert.equal(etc.status, 0, etc.stderr);
    assert.match(etc.stdout, /file\s+\S+ B\s+\S+\s+motd/);
    assert.doesNotMatch(etc.stdout, /\bhostname\n/);
    assert.match(etc.stdout, /note: not in the index: \/disk0\/part1\/etc\/hostname: not a usable ext2\/3\/4 file system/);
    const logFolder = await fromIndex('/disk0/part1/var/log/');
    assert.equal(logFolder.status, 0, logFolder.stderr);
    assert.match(
      logFolder.stdout,
      /^TYPE\s+SIZE\s+MODIFIED\s+NAME\nnote: not in the index: \/disk0\/part1\/var\/log: its contents could not be read/,
    );
    assert.match((await fromIndex('/disk0/part2')).stdout, /note: not in the index: \/disk0\/part2: unknown or damaged file system/);
    for (const [path, said] of [
      ['/disk0', /the file index holds what is inside volumes/],
      ['/disk0/part1/etc/motd', /\/disk0\/part1\/etc\/motd is a file, not a folder/],
      ['/disk0/part1/no/such', /the index of this point holds nothing there/],
      ['/disk0/part9', /the index of this point holds nothing there/],
    ] as const) {
      const refused = await fromIndex(path);
      assert.equal(refused.status, 2, `${path}: ${refused.stdout}${refused.stderr}`);
      assert.match(refused.stderr, said);
    }

    // Picked folders holding the damage: the readable files come back, the rest is named.
    const out = join(dir, 'out');
    const restored = await runJob(
      engine,
      await engine.files.startItemRestore(
        {
          vm: 'damaged',
          point: 'latest',
          paths: ['/disk0/part1/etc', '/disk0/part1/var'],
          target: { kind: 'local', path: out },
          onClash: 'keep-both',
        },
        'test',
      ),
    );
    assert.equal(restored.state, 'succeeded', restored.error ?? '');
    assert.equal(restored.result?.unreadable, 2);
    assert.equal(await readFile(join(out, 'etc/motd'), 'utf8'), 'Welcome to damaged, a Lifeboat lab VM.\n');
    assert.deepEqual(await readdir(join(out, 'etc')), ['motd']);
    assert.deepEqual(await readdir(join(out, 'var/log')), [], 'var/log itself reads (its inode), its contents could not be listed');
    const restoreLog = engine.catalog
      .jobEvents(restored.id)
      .map((event) => event.message)
      .join('\n');
    assert.match(restoreLog, /not restored: \/disk0\/part1\/etc\/hostname: .*inode 13 fails its checksum/);
    assert.match(restoreLog, /not restored: \/disk0\/part1\/var\/log: its contents could not be read/);
    // A picked item that is itself unreadable is one clear error.
    const direct = await runJob(
      engine,
      await engine.files.startItemRestore(
        {
          vm: 'damaged',
          point: 'latest',
          paths: ['/disk0/part1/etc/hostname'],
          target: { kind: 'local', path: join(dir, 'out2') },
          onClash: 'keep-both',
        },
        'test',
      ),
    );
    assert.equal(direct.state, 'failed');
    assert.match(direct.error ?? '', /inode 13 fails its checksum/);
  } finally {
    await engine.close();
  }
});

/** Sets the dirty flag (0x0001) of $Volume's $VOLUME_INFORMATION, in the MFT and its mirror (found
 * from the boot sector, then the record's attribute chain): how Windows leaves a volume it did not
 * unmount. */
async function markNtfsDirty(image: string): Promise<void> {
  const bytes = await readFile(image);
  const clusterBytes = bytes.readUInt16LE(0x0b) * (bytes[0x0d] as number);
  for (const lcnAt of [0x30, 0x38]) {
    const record = Number(bytes.readBigUInt64LE(lcnAt)) * clusterBytes + 3 * 1024;
    assert.equal(bytes.toString('latin1', record, record + 4), 'FILE');
    let at = record + bytes.readUInt16LE(record + 20);
    while (bytes.readUInt32LE(at) !== 0x70) at += bytes.readUInt32LE(at + 4);
    const flags = at + bytes.readUInt16LE(at + 20) + 10;
    overwrite(image, flags, Buffer.from([(bytes[flags] as number) | 1]));
  }
}

test('an NTFS volume marked dirty is indexed and said to be maybe stale, in the index, search and ls', async () => {
  const dir = await tempDir();
  const image = join(dir, 'ntfs.img');
  const volumeBytes = 16 * 1024 * 1024;
  await writeFile(image, Buffer.alloc(0));
  await truncate(image, volumeBytes);
  execFileSync('mkntfs', ['-q', '-F', '-f', '-L', 'DIRTY', image], { stdio: 'ignore' });
  await writeFile(join(dir, 'ledger.txt'), 'figures\n');
  execFileSync('ntfscp', ['-q', image, join(dir, 'ledger.txt'), 'ledger.txt'], { stdio: 'ignore' });
  await markNtfsDirty(image);
  assert.throws(() => run('ntfsinfo', '-m', image), /Volume is scheduled for check/, 'ntfsinfo sees the dirty flag');
  assert.match(run('ntfsinfo', '-f', '-m', image), /Volume Flags: 0x0001/);

  const raw = join(dir, 'disk.raw');
  await writeNtfsMbrDisk(raw, image, volumeBytes);
  const source = join(dir, 'source');
  await mkdir(source);
  await makeVmFolder(source, 'windows', raw, 'monolithicSparse');
  const home = join(dir, 'home');
  const engine = await openEngine(home);
  try {
    const indexJob = await backUpThenIndex(engine, source);
    assert.equal(indexJob?.state, 'succeeded');
    assert.equal(indexJob?.result?.unreadable, 0);
    const stale = 'may be stale: the NTFS volume is marked dirty (not cleanly unmounted) and its $LogFile was not replayed';
    assert.ok(engine.catalog.jobEvents(indexJob?.id as string).some((event) => event.message === `may be stale: /disk0/part1: ${stale}`));
    const found = engine.files.search('ledger', undefined);
    assert.deepEqual(
      found.hits.map((hit) => hit.path),
      ['/disk0/part1/ledger.txt'],
    );
    assert.deepEqual(
      found.gaps.map((point) => [point.unreadable, point.stale, point.gaps]),
      [[0, 1, [{ path: '/disk0/part1', kind: 'stale', reason: stale }]]],
    );

    const searched = await lifeboat(home, 'files', 'search', 'ledger');
    assert.equal(
      searched.stdout,
      `windows /disk0/part1/ledger.txt\n    point 1: 8 B, modified ${/modified (\S+)/.exec(searched.stdout)?.[1]}\nnote: VM windows point 1 /disk0/part1: ${stale}\n`,
    );
    const listed = await lifeboat(home, 'files', 'ls', 'windows', '--point', 'latest', '/disk0/part1');
    assert.match(listed.stdout, /ledger\.txt\nnote: \/disk0\/part1: may be stale: the NTFS volume is marked dirty/);
    // The inverse, with the real tool: ntfsfix -d clears the flag, and the note goes.
    execFileSync('ntfsfix', ['-d', image], { stdio: 'ignore' });
    assert.match(run('ntfsinfo', '-m', image), /Volume Flags: 0x0000/);
    assert.deepEqual((await NtfsFileSystem.open(new BytesDisk(await readFile(image), image))).notes, []);
  } finally {
    await engine.close();
  }
});
