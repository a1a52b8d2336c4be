// Item-level restore of a hostile guest: names holding '/', '..' and control characters, a
// symbolic link and a folder of one name (the folder "through" the link), setuid files and a
// 1 TiB sparse file, made with debugfs and mtools and then by patching directory entries in the
// images. Whatever the guest holds, files land only under --out, names are escaped visibly and
// the job log says so.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { lstat, mkdir, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { quietHooks, type StepContext } from '../../electron/jobs/plan.ts';
import { PointBrowser } from '../../electron/items/point-browser.ts';
import { RestoreItemsWork } from '../../electron/items/restore-items.ts';
import { buildGuestDisk, spliceAll } from '../../electron/lab/guest-disk.ts';
import { Peer, osCaller } from '../../electron/auth/peer.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { makeVmFolder, openEngine, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { patchName } from '../helpers/image-names.ts';

const TIB = 2 ** 40;
const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
const runFile = promisify(execFile);
const mtoolsEnv = { ...process.env, MTOOLS_SKIP_CHECK: '1' };

/** Every path under `folder` with its kind and bytes: compared before and after, it shows that nothing was written there. */
async function snapshotTree(folder: string): Promise<string[]> {
  const lines: string[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const name of (await readdir(at)).sort()) {
      const path = join(at, name);
      const info = await lstat(path);
      lines.push(`${path} ${info.mode.toString(8)} ${info.isFile() ? (await readFile(path)).toString('base64') : ''}`);
      if (info.isDirectory()) await walk(path);
    }
  };
  await walk(folder);
  return lines;
}

/** A step context whose first progress report pulls its cancel. */
function stepContext(controller: AbortController, log: string[]): StepContext {
  return {
    signal: controller.signal,
    resources: { record: () => 0, update: () => undefined },
    progress: () => controller.abort(),
    log: (message) => log.push(message),
    waiting: () => undefined,
    busy: () => undefined,
  };
}

function debugfs(image: string, commands: string[]): void {
  execFileSync('debugfs', ['-w', '-f', '-', image], { input: `${commands.join('\n')}\n`, stdio: ['pipe', 'ignore', 'ignore'] });
}

test('a hostile guest restores only under --out: names escaped, links never followed, special bits dropped, holes kept', async () => {
  const dir = await tempDir();
  const work = join(dir, 'work');
  await mkdir(work);
  const canary = join(dir, 'canary');
  await mkdir(canary);
  await writeFile(join(canary, 'keep.txt'), 'the canary');
  const layout = await buildGuestDisk(work, 'hostile', 48);
  const small = join(work, 'small.txt');
  await writeFile(small, 'guest bytes\n');
  // Names are patched into directory blocks below; without metadata_csum no block checksum has to
  // be forged to match (the reader refuses a folder block that fails its checksum, as the kernel does).
  execFileSync('tune2fs', ['-O', '^metadata_csum', layout.ext4.image], { stdio: 'ignore' });
  debugfs(layout.ext4.image, [
    'mkdir /evil',
    `write ${small} /evil/PLACEHOLDER_DOTS`, // becomes ../../tmp/x
    'mkdir /evil/a',
    `write ${small} /evil/a/b`,
    `write ${small} /evil/PHS`, // becomes a/b
    `symlink /evil/slink_same ${canary}`,
    'mkdir /evil/PLACEHOLDR', // becomes slink_same: a folder named like the link beside it
    `write ${small} /evil/PLACEHOLDR/evil`,
    `write ${small} /evil/PLACEHOLDER_CTRL`, // becomes a name with a newline and ESC
    `write ${small} /evil/suid`,
    'sif /evil/suid mode 0104755',
    'mkdir /evil/sticky',
    'sif /evil/sticky mode 041777',
    `write ${small} /evil/Makefile`, // ext4 names differ by case: both are files of their own
    `write ${small} /evil/makefile`,
    'mkdir /huge',
    `write ${small} /huge/sparse.bin`,
    `sif /huge/sparse.bin size ${TIB}`,
  ]);
  await patchName(layout.ext4.image, 'PLACEHOLDER_DOTS', '../../tmp/x_dots');
  await patchName(layout.ext4.image, 'PHS', 'a/b');
  await patchName(layout.ext4.image, 'PLACEHOLDR', 'slink_same');
  await patchName(layout.ext4.image, 'PLACEHOLDER_CTRL', 'x\n\x1b[31mfake\x7fzzzz');
  // FAT: a short name holding '/' and one holding ESC, as a damaged or crafted volume can.
  await writeFile(join(work, 'fat.txt'), 'fat bytes\n');
  execFileSync('mmd', ['-i', layout.fat.image, '::/evil'], { env: mtoolsEnv });
  execFileSync('mcopy', ['-i', layout.fat.image, join(work, 'fat.txt'), '::/evil/AQB.TXT'], { env: mtoolsEnv });
  execFileSync('mcopy', ['-i', layout.fat.image, join(work, 'fat.txt'), '::/evil/QESC.TXT'], { env: mtoolsEnv });
  await patchName(layout.fat.image, 'AQB     TXT', 'A/B     TXT');
  await patchName(layout.fat.image, 'QESC    TXT', '\x1bESC    TXT');
  await spliceAll(layout);
  const source = join(dir, 'source');
  await mkdir(source);
  await makeVmFolder(source, 'hostile', layout.rawPath, 'monolithicSparse');
  const engine = await openEngine(join(dir, 'home'));
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');

  // The listing keeps the raw names (JSON); the CLI prints them escaped (see format.test).
  const listed = (await dispatch(engine, new Peer(osCaller()), 'files.list', {
    vm: 'hostile',
    point: 'latest',
    path: '/disk0/part1/evil',
  })) as { name: string; type: string }[];
  assert.ok(listed.some((entry) => entry.name === 'a/b'));
  assert.ok(
    listed.some((entry) => entry.name === 'slink_same' && entry.type === 'symlink') &&
      listed.some((entry) => entry.name === 'slink_same' && entry.type === 'dir'),
  );

  // The CLI prints each name on its own line, control characters escaped; --json keeps them raw.
  const home = join(dir, 'home');
  const printed = (
    await runFile(process.execPath, [cli, '--home', home, 'files', 'ls', 'hostile', '--point', 'latest', '/disk0/part1/evil'])
  ).stdout;
  assert.equal(printed.trimEnd().split('\n').length, listed.length + 1, printed);
  assert.ok(printed.includes('x\\x0a\\x1b[31mfake\\x7fzzzz') && !printed.includes('\x1b'), printed);
  const raw = JSON.parse(
    (await runFile(process.execPath, [cli, '--home', home, '--json', 'files', 'ls', 'hostile', '--point', 'latest', '/disk0/part1/evil']))
      .stdout,
  ) as { name: string }[];
  assert.ok(raw.some((entry) => entry.name === 'x\n\x1b[31mfake\x7fzzzz'));

  const before = await snapshotTree(canary);
  const out = join(dir, 'out');
  const job = await runJob(
    engine,
    await engine.files.startItemRestore(
      {
        vm: 'hostile',
        point: 'latest',
        paths: ['/disk0/part1/evil', '/disk0/part1/huge', '/disk0/part2/evil'],
        target: { kind: 'local', path: out },
        onClash: 'overwrite',
      },
      'test',
    ),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.deepEqual(await snapshotTree(canary), before, 'nothing written through the link');
  assert.deepEqual((await readdir(dir)).sort(), ['canary', 'home', 'out', 'source', 'work'], 'nothing beside --out');

  const evil = join(out, 'evil');
  assert.deepEqual(
    (await readdir(evil)).sort(),
    ['..%2F..%2Ftmp%2Fx_dots', 'Makefile', 'a', 'a%2Fb', 'makefile', 'slink_same', 'sticky', 'suid', 'x%0A%1B[31mfake%7Fzzzz'].sort(),
  );
  assert.equal(await readFile(join(evil, '..%2F..%2Ftmp%2Fx_dots'), 'utf8'), 'guest bytes\n');
  assert.equal(await readFile(join(evil, 'a%2Fb'), 'utf8'), 'guest bytes\n');
  assert.equal(await readFile(join(evil, 'a', 'b'), 'utf8'), 'guest bytes\n');
  assert.equal(await readlink(join(evil, 'slink_same')), canary, 'the link is restored as a link');
  assert.equal((await stat(join(evil, 'suid'))).mode & 0o7777, 0o755, 'setuid dropped');
  assert.equal((await stat(join(evil, 'sticky'))).mode & 0o7777, 0o777, 'sticky dropped');
  assert.deepEqual((await readdir(join(out, 'evil (duplicate)'))).sort(), ['%1BESC.TXT', 'A%2FB.TXT']);
  const sparse = await stat(join(out, 'huge', 'sparse.bin'));
  assert.equal(sparse.size, TIB);
  assert.ok(sparse.blocks * 512 < 1024 * 1024, `the 1 TiB file takes ${sparse.blocks * 512} bytes on disk`);

  const log = ((await dispatch(engine, new Peer(osCaller()), 'jobs.get', { jobId: job.id })) as { events: { message: string }[] }).events
    .map((event) => event.message)
    .join('\n');
  assert.match(log, /guest name "\.\.\/\.\.\/tmp\/x_dots" .* written as "..%2F..%2Ftmp%2Fx_dots"/);
  assert.match(log, /guest name "a\/b"/);
  assert.match(
    log,
    /"slink_same" \(dir\) in \/disk0\/part1\/evil: another entry answers to "slink_same", so this one cannot be read by its path; left out/,
  );

  // A relative --out is the CLI's own folder, shown absolute; a name holding '/' is picked by its escaped name.
  await runFile(
    process.execPath,
    [cli, '--home', home, 'files', 'get', 'hostile', '--point', 'latest', '/disk0/part1/evil/a%2Fb', '--out', 'relative-out'],
    { cwd: dir },
  );
  assert.equal(await readFile(join(dir, 'relative-out', 'a%2Fb'), 'utf8'), 'guest bytes\n');

  // Asked for, the special bits stay.
  const kept = join(dir, 'kept');
  const keptJob = await runJob(
    engine,
    await engine.files.startItemRestore(
      {
        vm: 'hostile',
        point: 'latest',
        paths: ['/disk0/part1/evil/suid'],
        target: { kind: 'local', path: kept },
        onClash: 'keep-both',
        keepSpecialBits: true,
      },
      'test',
    ),
  );
  assert.equal(keptJob.state, 'succeeded', keptJob.error ?? '');
  assert.equal((await stat(join(kept, 'suid'))).mode & 0o7777, 0o4755);

  // Again over the first restore: overwrite replaces files and links in place, never follows them.
  const again = await runJob(
    engine,
    await engine.files.startItemRestore(
      { vm: 'hostile', point: 'latest', paths: ['/disk0/part1/evil'], target: { kind: 'local', path: out }, onClash: 'overwrite' },
      'test',
    ),
  );
  assert.equal(again.state, 'succeeded', again.error ?? '');
  assert.deepEqual(await snapshotTree(canary), before);
  assert.equal(await readlink(join(evil, 'slink_same')), canary);

  // An archive: the same names, each once, no absolute or '..' entry, no special bits (Python's tarfile and zipfile read them).
  for (const archive of ['tar', 'zip'] as const) {
    const into = join(dir, `archive-${archive}`);
    const archived = await runJob(
      engine,
      await engine.files.startItemRestore(
        {
          vm: 'hostile',
          point: 'latest',
          paths: ['/disk0/part1/evil', '/disk0/part2/evil'],
          target: { kind: 'local', path: into },
          onClash: 'keep-both',
          archive,
        },
        'test',
      ),
    );
    assert.equal(archived.state, 'succeeded', archived.error ?? '');
    const [file] = await readdir(into);
    assert.ok(file);
    const script =
      archive === 'tar'
        ? 'import tarfile,sys,json\nt=tarfile.open(sys.argv[1])\nprint(json.dumps([[m.name,m.mode,m.issym()] for m in t.getmembers()]))'
        : 'import zipfile,sys,json\nz=zipfile.ZipFile(sys.argv[1])\nprint(json.dumps([[i.filename.rstrip("/"),i.external_attr>>16&0o7777,(i.external_attr>>16)&0o170000==0o120000] for i in z.infolist()]))';
    const members = JSON.parse(execFileSync('python3', ['-c', script, join(into, file)], { encoding: 'utf8' })) as [
      string,
      number,
      boolean,
    ][];
    const names = members.map(([name]) => name.replace(/\/$/, ''));
    assert.equal(new Set(names).size, names.length, `${archive}: no two entries of one name`);
    for (const name of names)
      assert.ok(
        !name.startsWith('/') && !name.split('/').includes('..') && !/[\x00-\x1f]/.test(name),
        `${archive}: ${JSON.stringify(name)}`,
      );
    assert.ok(
      names.includes('evil/a%2Fb') && names.includes('evil/slink_same') && names.includes('evil (duplicate)/A%2FB.TXT'),
      `${archive}: ${names.join(', ')}`,
    );
    for (const [name, mode] of members) assert.equal(mode & 0o7000, 0, `${archive}: ${name} keeps no special bit`);
    if (archive === 'tar') execFileSync('tar', ['-tf', join(into, file)], { stdio: 'ignore' }); // GNU tar reads it too
  }

  // An archive of the 1 TiB file would hold its holes as zeros: refused for room, nothing left behind.
  const full = join(dir, 'full');
  const refused = await runJob(
    engine,
    await engine.files.startItemRestore(
      {
        vm: 'hostile',
        point: 'latest',
        paths: ['/disk0/part1/huge'],
        target: { kind: 'local', path: full },
        onClash: 'keep-both',
        archive: 'tar',
      },
      'test',
    ),
  );
  assert.equal(refused.state, 'failed');
  assert.match(refused.error ?? '', /bytes free/);
  assert.ok(!(await readdir(dir)).includes('full'), 'the folder it made is taken back');

  // Into the parent of the engine's home: a guest folder named like the home never merges into it.
  const homeBefore = await snapshotTree(home);
  const beside = await runJob(
    engine,
    await engine.files.startItemRestore(
      { vm: 'hostile', point: 'latest', paths: ['/disk0/part1/home'], target: { kind: 'local', path: dir }, onClash: 'overwrite' },
      'test',
    ),
  );
  assert.equal(beside.state, 'succeeded', beside.error ?? '');
  assert.ok((await readdir(join(dir, 'home (restored)'))).includes('operator'));
  // The engine's own records (the catalog and the audit log's anchors) take the restore's entry.
  const ownRecords = (line: string): boolean => !line.includes('catalog.sqlite') && !line.includes('audit/anchors.log');
  assert.deepEqual((await snapshotTree(home)).filter(ownRecords), homeBefore.filter(ownRecords), 'the home is as it was');

  // Cancel is seen while folders are still being listed (initialize), and while copying; a
  // cancelled copy takes back what it made, the folders above --out included.
  const vmId = engine.lookup.resolveVm('hostile').id;
  const pointId = engine.catalog.listPoints(vmId)[0]?.id as string;
  const listing = new AbortController();
  const cancelledEarly = new RestoreItemsWork(
    async () => {
      const browser = await PointBrowser.open(engine.repository, vmId, pointId);
      const list = browser.list.bind(browser);
      browser.list = async (path) => {
        listing.abort();
        return list(path);
      };
      return browser;
    },
    { paths: ['/disk0/part1/evil'], targetPath: join(dir, 'cancelled'), onClash: 'keep-both' },
  );
  await assert.rejects(cancelledEarly.plan.run(stepContext(listing, []), quietHooks), { code: 'cancelled' });
  await cancelledEarly.finish();
  const copying = new AbortController();
  const cancelledLate = new RestoreItemsWork(() => PointBrowser.open(engine.repository, vmId, pointId), {
    paths: ['/disk0/part1/evil'],
    targetPath: join(dir, 'cancelled', 'deeper', 'out'),
    onClash: 'keep-both',
  });
  // Listing reports no progress: the first report, and so the cancel, comes while copying.
  await assert.rejects(cancelledLate.plan.run(stepContext(copying, []), quietHooks), { code: 'cancelled' });
  await cancelledLate.finish();
  assert.ok(!(await readdir(dir)).includes('cancelled'), 'nothing of the cancelled restores is left');
});

test('NTFS names Linux tools write but paths cannot hold ("..", "a/b", control characters) are picked and restored escaped', async () => {
  const dir = await tempDir();
  const image = join(dir, 'ntfs.img');
  const volumeBytes = 16 * 1024 * 1024;
  await writeFile(image, Buffer.alloc(volumeBytes));
  execFileSync('mkntfs', ['-q', '-F', '-f', '-L', 'HOSTILE', image], { stdio: 'ignore' });
  const data = join(dir, 'data.txt');
  await writeFile(data, 'ntfs bytes\n');
  // ntfs-3g writes POSIX-namespace names: '\', ':' and control characters; '/' and '..' need a patch of the name in the MFT record and the folder index.
  for (const name of ['back\\slash:colon', 'nl\nesc\x1bx', 'PLACEHOLDERNTFS', 'PH'])
    execFileSync('ntfscp', ['-q', image, data, name], { stdio: 'ignore' });
  for (const [placeholder, name] of [
    ['PLACEHOLDERNTFS', '../../etc/ntfs1'],
    ['PH', '..'],
  ]) {
    const bytes = await readFile(image);
    const from = Buffer.from(placeholder as string, 'utf16le');
    let patched = 0;
    for (let at = bytes.indexOf(from); at >= 0; at = bytes.indexOf(from, at + 1), patched++)
      Buffer.from(name as string, 'utf16le').copy(bytes, at);
    assert.ok(patched >= 2, `${placeholder}: the MFT record and the index entry`);
    await writeFile(image, bytes);
  }
  const mbr = Buffer.alloc(512);
  mbr[446 + 4] = 0x07;
  mbr.writeUInt32LE(2048, 446 + 8);
  mbr.writeUInt32LE(volumeBytes / 512, 446 + 12);
  mbr.writeUInt16LE(0xaa55, 510);
  const raw = join(dir, 'disk.raw');
  await writeFile(raw, Buffer.concat([mbr, Buffer.alloc(1024 * 1024 - 512), await readFile(image), Buffer.alloc(1024 * 1024)]));
  const source = join(dir, 'source');
  await mkdir(source);
  await makeVmFolder(source, 'ntfsvm', raw, 'monolithicSparse');
  const engine = await openEngine(join(dir, 'home'));
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  const names = (
    (await dispatch(engine, new Peer(osCaller()), 'files.list', { vm: 'ntfsvm', point: 'latest', path: '/disk0/part1' })) as {
      name: string;
    }[]
  )
    .map((entry) => entry.name)
    .sort();
  assert.deepEqual(names, ['..', '../../etc/ntfs1', 'back\\slash:colon', 'nl\nesc\x1bx'].sort());
  const out = join(dir, 'out');
  const picked = [
    '/disk0/part1/back\\slash:colon',
    '/disk0/part1/nl%0Aesc%1Bx',
    '/disk0/part1/..%2F..%2Fetc%2Fntfs1',
    '/disk0/part1/%2E%2E',
  ];
  const job = await runJob(
    engine,
    await engine.files.startItemRestore(
      { vm: 'ntfsvm', point: 'latest', paths: picked, target: { kind: 'local', path: out }, onClash: 'keep-both' },
      'test',
    ),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.deepEqual((await readdir(out)).sort(), ['%2E%2E', '..%2F..%2Fetc%2Fntfs1', 'back\\slash:colon', 'nl%0Aesc%1Bx'].sort());
  for (const name of await readdir(out)) assert.equal(await readFile(join(out, name), 'utf8'), 'ntfs bytes\n', name);
  assert.deepEqual((await readdir(dir)).sort(), ['data.txt', 'disk.raw', 'home', 'ntfs.img', 'out', 'source']);
});

test('a VM whose backed-up name climbs out (../..) is restored, as a VM and as disks + template, only inside the target', async () => {
  const dir = await tempDir();
  const source = join(dir, 'source');
  await mkdir(source);
  await writeMixedRaw(join(dir, 'climb.raw'), 2);
  await makeVmFolder(source, 'climb', join(dir, 'climb.raw'), 'monolithicFlat');
  // The .vmx is the guest's owner's to write: its displayName names the VM, and so its files.
  const vmx = join(source, 'climb.vmx');
  await writeFile(vmx, (await readFile(vmx, 'utf8')).replace(/displayName = "climb"/, 'displayName = "../../climbed"'));
  const engine = await openEngine(join(dir, 'home'));
  try {
    assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
    const outside = await snapshotTree(dir);
    const target = join(dir, 'deep', 'a', 'vm');
    const restored = await runJob(
      engine,
      await engine.restores.start({ vm: '../../climbed', point: 'latest', target: { kind: 'local', path: target } }, 'test'),
    );
    assert.equal(restored.state, 'succeeded', restored.error ?? '');
    assert.deepEqual((await readdir(target)).sort(), ['..%2F..%2Fclimbed.vmx', 'climb-flat.vmdk', 'climb.vmdk']);
    // A new name is the operator's and the contract allows only plain names (no '/').
    await assert.rejects(
      dispatch(engine, new Peer(osCaller()), 'restore.entireVm', {
        vm: '../../climbed',
        point: 'latest',
        target: { kind: 'local', path: join(dir, 'deep', 'b') },
        newName: '../x',
      }),
      { code: 'bad-request' },
    );
    const disks = await runJob(
      engine,
      await engine.restores.startDisks(
        { vm: '../../climbed', point: 'latest', target: { kind: 'local', path: join(dir, 'deep', 'c') }, template: 'ovf' },
        'test',
      ),
    );
    assert.equal(disks.state, 'succeeded', disks.error ?? '');
    assert.ok((await readdir(join(dir, 'deep', 'c'))).includes('..%2F..%2Fclimbed.ovf'));
    // Nothing appeared or changed beside the targets (the home is the engine's own).
    const after = (await snapshotTree(dir)).filter((line) => !line.startsWith(join(dir, 'deep')) && !line.startsWith(join(dir, 'home')));
    assert.deepEqual(
      after,
      outside.filter((line) => !line.startsWith(join(dir, 'home'))),
    );
  } finally {
    await engine.close();
  }
});
