// Browsing inside a restore point, checked against the real tools: e2fsprogs' debugfs for ext4
// and mtools for FAT, on a GPT disk built with sgdisk, mke2fs -d and mkfs.fat + mcopy.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, readlink, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readAll } from '../../electron/filesystems/file-system.ts';
import { PointBrowser } from '../../electron/items/point-browser.ts';
import { buildGuestDisk, changeGuest, spliceAll } from '../../electron/lab/guest-disk.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { asOwner } from '../helpers/owner.ts';
import { makeVmFolder, openEngine, runJob, tempDir, writeNtfsMbrDisk } from '../helpers/env.ts';

test('ext4 and FAT inside a backed-up GPT disk list and read as debugfs and mtools say', async () => {
  const dir = await tempDir();
  const work = join(dir, 'work');
  await mkdir(work);
  const layout = await buildGuestDisk(work, 'itemvm', 48);
  const source = join(dir, 'source');
  await mkdir(source);
  await makeVmFolder(source, 'itemvm', layout.rawPath, 'monolithicSparse');
  const engine = await openEngine(join(dir, 'home'));
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  const vmId = engine.lookup.resolveVm('itemvm').id;
  const [point] = engine.catalog.listPoints(vmId);
  assert.ok(point);
  const browser = await PointBrowser.open(engine.repository, vmId, point.id);
  try {
    assert.deepEqual(
      (await browser.list('/')).map((entry) => entry.name),
      ['disk0'],
    );
    assert.deepEqual(
      (await browser.list('/disk0')).map((entry) => [entry.name, entry.target]),
      [
        ['part1', 'ext4 "root"'],
        ['part2', 'fat "DATA"'],
      ],
    );

    // ext4 against debugfs: names and sizes of a folder, then file bytes.
    const debugfs = execFileSync('debugfs', ['-R', 'ls -p /home/operator', layout.ext4.image], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const expected = debugfs
      .split('\n')
      .filter((line) => line.startsWith('/'))
      .map((line) => line.split('/'))
      .filter((parts) => parts[5] !== '.' && parts[5] !== '..')
      .map((parts) => [parts[5], Number(parts[6] || 0)])
      .sort();
    const listed = (await browser.list('/disk0/part1/home/operator'))
      .map((entry) => [entry.name, entry.type === 'dir' ? 0 : entry.size])
      .sort();
    assert.deepEqual(
      listed.filter(([, size]) => size !== 0),
      expected.filter(([, size]) => size !== 0),
    );
    assert.deepEqual(
      listed.map(([name]) => name),
      expected.map(([name]) => name),
    );
    for (const file of ['var/log/service.log', 'home/operator/blob.bin', 'etc/hostname']) {
      assert.ok(
        (await readAll(browser.fileSystemFor('/disk0/part1'), file, 16 * 1024 * 1024)).equals(await readFile(join(work, 'files', file))),
        file,
      );
    }

    // FAT against mtools: the names mdir prints, and the bytes mcopy extracts.
    const mdir = execFileSync('mdir', ['-i', layout.fat.image, '-b', '::/home/operator'], {
      encoding: 'utf8',
      env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
    });
    const fatNames = mdir
      .split('\n')
      .filter(Boolean)
      .map((line) => line.replace(/^::\/home\/operator\//, '').replace(/\/$/, ''))
      .sort();
    assert.deepEqual((await browser.list('/disk0/part2/home/operator')).map((entry) => entry.name).sort(), fatNames);
    const mcopy = execFileSync('mcopy', ['-i', layout.fat.image, '::/home/operator/blob.bin', '-'], {
      env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
      maxBuffer: 16 * 1024 * 1024,
    });
    const chunks: Uint8Array[] = [];
    for await (const chunk of browser.read('/disk0/part2/home/operator/blob.bin')) chunks.push(chunk);
    assert.ok(Buffer.concat(chunks).equals(mcopy));

    await assert.rejects(browser.list('/disk0/part1/nope'), { code: 'not-found' });
    await assert.rejects(browser.list('/disk9'), { code: 'not-found', message: /no disk disk9/ });
  } finally {
    await browser.close();
  }
});

test('picked files, folders and a symlink come back with their bytes, times and modes; clashes follow the policy', async () => {
  const dir = await tempDir();
  const work = join(dir, 'work');
  await mkdir(work);
  const layout = await buildGuestDisk(work, 'picker', 48);
  execFileSync('debugfs', ['-w', '-R', 'symlink /home/operator/latest-notes notes.txt', layout.ext4.image], { stdio: 'ignore' });
  await spliceAll(layout);
  const source = join(dir, 'source');
  await mkdir(source);
  await makeVmFolder(source, 'picker', layout.rawPath, 'monolithicFlat');
  const engine = await openEngine(join(dir, 'home'));
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  const listed = (await dispatch(engine, asOwner(), 'files.list', {
    vm: 'picker',
    point: 'latest',
    path: '/disk0/part1/home/operator',
  })) as { name: string; target?: string }[];
  assert.equal(listed.find((entry) => entry.name === 'latest-notes')?.target, 'notes.txt');
  // A folder listed again (kept by the files service) answers the same; a missing one fails each time.
  const listedAgain = await dispatch(engine, asOwner(), 'files.list', {
    vm: 'picker',
    point: 'latest',
    path: '/disk0/part1/home/operator/',
  });
  assert.deepEqual(listedAgain, listed);
  assert.deepEqual(
    await dispatch(engine, asOwner(), 'files.list', { vm: 'picker', point: 'latest', path: '/disk0/part1/home/operator' }),
    listed,
  );
  for (let attempt = 0; attempt < 2; attempt++)
    await assert.rejects(
      dispatch(engine, asOwner(), 'files.list', { vm: 'picker', point: 'latest', path: '/disk0/part1/no-such-folder' }),
      /no such file or folder/,
    );

  const out = join(dir, 'out');
  const job = await runJob(
    engine,
    await engine.files.startItemRestore(
      {
        vm: 'picker',
        point: 'latest',
        paths: ['/disk0/part1/home/operator', '/disk0/part2/etc/hostname'],
        target: { kind: 'local', path: out },
        onClash: 'keep-both',
      },
      'test',
    ),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  for (const file of ['blob.bin', 'notes.txt']) {
    const restored = join(out, 'operator', file);
    const original = join(work, 'files', 'home', 'operator', file);
    assert.ok((await readFile(restored)).equals(await readFile(original)), file);
    const [a, b] = [await stat(restored), await stat(original)];
    assert.equal(Math.floor(a.mtimeMs / 1000), Math.floor(b.mtimeMs / 1000), `${file} keeps its modification time`);
    assert.equal(a.mode & 0o777, b.mode & 0o777, `${file} keeps its mode`);
  }
  assert.equal(await readlink(join(out, 'operator', 'latest-notes')), 'notes.txt');
  assert.equal(await readFile(join(out, 'hostname'), 'utf8'), 'picker\n');

  const again = await runJob(
    engine,
    await engine.files.startItemRestore(
      { vm: 'picker', point: 'latest', paths: ['/disk0/part2/etc/hostname'], target: { kind: 'local', path: out }, onClash: 'keep-both' },
      'test',
    ),
  );
  assert.equal(again.state, 'succeeded');
  assert.ok((await readdir(out)).includes('hostname (restored)'));
  const skipped = await runJob(
    engine,
    await engine.files.startItemRestore(
      { vm: 'picker', point: 'latest', paths: ['/disk0/part2/etc/hostname'], target: { kind: 'local', path: out }, onClash: 'skip' },
      'test',
    ),
  );
  assert.deepEqual([skipped.result?.copied, skipped.result?.skipped], [0, 1]);
  await assert.rejects(
    dispatch(engine, asOwner(), 'files.restore', {
      vm: 'picker',
      point: 'latest',
      paths: ['etc/passwd'],
      target: { kind: 'local', path: out },
    }),
    { code: 'bad-request' },
  );
});

test('the file index finds a name across VMs and versions', async () => {
  const dir = await tempDir();
  const work = join(dir, 'work');
  await mkdir(work);
  const layout = await buildGuestDisk(work, 'indexed', 48);
  const source = join(dir, 'source');
  await mkdir(source);
  const engine = await openEngine(join(dir, 'home'));
  for (let generation = 1; generation <= 2; generation++) {
    if (generation > 1) await changeGuest(layout, work, generation);
    await makeVmFolder(source, 'indexed', layout.rawPath, 'monolithicFlat');
    assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  }
  await engine.jobs.idle();
  const indexJobs = engine.catalog.listJobs().filter((job) => job.kind === 'index');
  assert.deepEqual(
    indexJobs.map((job) => job.state),
    ['succeeded', 'succeeded'],
    'each backup was indexed',
  );
  const hostname = engine.files
    .search('hostname', undefined)
    .hits.map((hit) => [hit.path, hit.versions.map((version) => version.sequence)]);
  assert.deepEqual(hostname.sort(), [
    ['/disk0/part1/etc/hostname', [1, 2]],
    ['/disk0/part2/etc/hostname', [1, 2]],
  ]);
  const report = engine.files.search('REPORT-2', 'indexed').hits;
  assert.deepEqual(report.map((hit) => [hit.path, hit.versions.map((version) => version.sequence)]).sort(), [
    ['/disk0/part1/home/operator/report-2.txt', [2]],
    ['/disk0/part2/report-2.txt', [2]],
  ]);
  assert.ok(
    engine.files.search('tc', undefined).hits.some((hit) => hit.path.endsWith('/etc')),
    'two letters still find names',
  );
  assert.deepEqual(engine.files.search('no-such-file-anywhere', undefined), { hits: [], gaps: [] }, 'a clean index has no gaps to report');
});

test("picked items as one tar or zip archive, read back by tar and by Python's zipfile", async () => {
  const dir = await tempDir();
  const work = join(dir, 'work');
  await mkdir(work);
  const layout = await buildGuestDisk(work, 'archived', 48);
  const longName = `${'long-name-'.repeat(12)}résumé.txt`;
  await writeFile(join(work, 'long.txt'), 'a long and non-ASCII name\n');
  execFileSync('debugfs', ['-w', '-R', `write ${join(work, 'long.txt')} /home/operator/${longName}`, layout.ext4.image], {
    stdio: 'ignore',
  });
  execFileSync('debugfs', ['-w', '-R', 'symlink /home/operator/latest-notes notes.txt', layout.ext4.image], { stdio: 'ignore' });
  await spliceAll(layout);
  const source = join(dir, 'source');
  await mkdir(source);
  await makeVmFolder(source, 'archived', layout.rawPath, 'monolithicFlat');
  const engine = await openEngine(join(dir, 'home'));
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  const out = join(dir, 'out');
  for (const archive of ['tar', 'zip'] as const) {
    const job = await runJob(
      engine,
      await engine.files.startItemRestore(
        {
          vm: 'archived',
          point: 'latest',
          paths: ['/disk0/part1/home/operator'],
          target: { kind: 'local', path: out },
          onClash: 'keep-both',
          archive,
        },
        'test',
      ),
    );
    assert.equal(job.state, 'succeeded', job.error ?? '');
    const file = job.result?.archive as string;
    assert.match(file, new RegExp(`archived-point-1-items\\.${archive}$`));
    const extracted = join(dir, `x-${archive}`);
    await mkdir(extracted);
    if (archive === 'tar') execFileSync('tar', ['-xf', file, '-C', extracted]);
    else {
      execFileSync('python3', ['-m', 'zipfile', '-t', file]);
      execFileSync('python3', ['-m', 'zipfile', '-e', file, extracted]);
    }
    for (const name of ['blob.bin', 'notes.txt', longName]) {
      const expected = name === longName ? join(work, 'long.txt') : join(work, 'files', 'home', 'operator', name);
      assert.ok((await readFile(join(extracted, 'operator', name))).equals(await readFile(expected)), `${archive}: ${name}`);
    }
    if (archive === 'tar') {
      assert.equal(await readlink(join(extracted, 'operator', 'latest-notes')), 'notes.txt');
      const listing = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' });
      assert.match(listing, /operator\/latest-notes -> notes\.txt/);
    }
  }
});

test('NTFS in an MBR partition lists and reads as ntfsls and ntfscat say, index blocks included', async () => {
  const dir = await tempDir();
  const image = join(dir, 'ntfs.img');
  const volumeBytes = 24 * 1024 * 1024;
  await writeFile(image, Buffer.alloc(0));
  await truncate(image, volumeBytes);
  execFileSync('mkntfs', ['-q', '-F', '-f', '-L', 'WINDATA', image], { stdio: 'ignore' });
  const files = join(dir, 'files');
  await mkdir(files);
  // Enough names that the root folder needs index blocks ($INDEX_ALLOCATION), not just its root.
  for (let i = 0; i < 120; i++) await writeFile(join(files, `invoice-${2000 + i}.txt`), `invoice ${i}\n`.repeat(i + 1));
  await writeFile(join(files, 'Überweisung März.bin'), Buffer.alloc(700_000, 3));
  for (const name of await readdir(files)) execFileSync('ntfscp', ['-q', image, join(files, name), name], { stdio: 'ignore' });
  const raw = join(dir, 'disk.raw');
  await writeNtfsMbrDisk(raw, image, volumeBytes);
  const source = join(dir, 'source');
  await mkdir(source);
  await makeVmFolder(source, 'windows', raw, 'monolithicSparse');
  const engine = await openEngine(join(dir, 'home'));
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  const vmId = engine.lookup.resolveVm('windows').id;
  const browser = await PointBrowser.open(engine.repository, vmId, engine.lookup.resolvePointId(vmId, 'latest'));
  try {
    assert.deepEqual(
      (await browser.list('/disk0')).map((entry) => [entry.name, entry.target]),
      [['part1', 'ntfs "WINDATA"']],
    );
    const ntfsls = execFileSync('ntfsls', ['-l', image], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const match = /^\s*(\d+)\s+\w+\s+\d+\s+[\d:]+\s+\d+\s+(.+)$/.exec(line);
        return match ? [match[2] as string, Number(match[1])] : null;
      })
      .filter((row): row is [string, number] => row !== null)
      .sort();
    const listed = (await browser.list('/disk0/part1')).map((entry) => [entry.name, entry.size]).sort();
    assert.equal(listed.length, 121);
    assert.deepEqual(listed, ntfsls);
    for (const name of ['invoice-2119.txt', 'Überweisung März.bin']) {
      const expected = execFileSync('ntfscat', [image, name], { maxBuffer: 4 * 1024 * 1024 });
      assert.ok((await readAll(browser.fileSystemFor('/disk0/part1'), name, 4 * 1024 * 1024)).equals(expected), name);
    }
  } finally {
    await browser.close();
  }
});
