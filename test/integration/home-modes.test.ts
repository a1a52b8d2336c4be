// Everything the engine makes in its home is its user's alone (no group or other bits) whatever
// umask it starts under: catalog and its WAL files, socket, repository, lab, tape library,
// secrets. A home others could read is fixed when it is opened. What a restore publishes in a
// target folder keeps the operator's ordinary modes.
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { createLab } from '../../electron/lab/create-lab.ts';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { makeVmFolder, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const startUmask = process.umask(0o022);
after(() => void process.umask(startUmask));

/** Every path under `folder` (symlinks not followed) with its mode. */
async function walk(folder: string): Promise<{ path: string; mode: number; kind: string }[]> {
  const found: { path: string; mode: number; kind: string }[] = [];
  const pending = [folder];
  while (pending.length > 0) {
    const path = pending.pop() as string;
    const info = await lstat(path);
    const kind = info.isSymbolicLink() ? 'symlink' : info.isDirectory() ? 'folder' : info.isSocket() ? 'socket' : 'file';
    found.push({ path, mode: info.mode & 0o7777, kind });
    if (kind === 'folder') for (const name of await readdir(path)) pending.push(join(path, name));
  }
  return found;
}

for (const umask of [0o022, 0o000]) {
  test(`under umask ${umask.toString(8).padStart(3, '0')}: a lab, backups, tape, secrets and restores leave nothing in the home others can read`, async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    process.umask(umask);
    const engine = await openServedEngine({ home, workerThreads: 2 });
    try {
      const [vm] = await createLab(inProcessApi(engine), engine.paths.lab, { vms: 1, points: 2, diskMib: 16 });
      assert.ok(vm);
      // A remembered encryption key: the secret store gets a secret (and its key file is made).
      const vault = join(dir, 'vault');
      await mkdir(vault);
      await writeMixedRaw(join(dir, 'vault.raw'), 4);
      await makeVmFolder(vault, 'vault', join(dir, 'vault.raw'), 'monolithicSparse');
      const sealed = await runJob(
        engine,
        await engine.backups.start(vault, 'test', { encrypt: true, password: 'a long enough password', rememberKey: true }),
      );
      assert.equal(sealed.state, 'succeeded', sealed.error ?? '');
      await engine.tape.createLibrary({
        slots: 4,
        drives: 1,
        mailslots: 1,
        tapes: 2,
        capacityBytes: 256 * 1024 * 1024,
        timeScale: 0.001,
        rateScale: 1,
      });
      const toTape = await runJob(engine, await engine.tape.startBackup([vm.name], 'weekly', 'latest', 'test'));
      assert.equal(toTape.state, 'succeeded', toTape.error ?? '');
      const target = join(dir, 'restores', 'deep', vm.name);
      const restored = await runJob(
        engine,
        await engine.restores.start({ vm: vm.name, point: 'latest', target: { kind: 'local', path: target } }, 'test'),
      );
      assert.equal(restored.state, 'succeeded', restored.error ?? '');

      // Loose items: an ext4 file keeps the mode its backup recorded (the lab guest's 0644); a FAT
      // file (no mode) and an archive get the operator's; the folders the restore makes too.
      const items = join(dir, 'items', 'nested');
      const loose = await runJob(
        engine,
        await engine.files.startItemRestore(
          {
            vm: vm.name,
            point: 'latest',
            paths: ['/disk0/part1/etc/hostname', '/disk0/part2/etc/motd'],
            target: { kind: 'local', path: items },
            onClash: 'keep-both',
          },
          'test',
        ),
      );
      assert.equal(loose.state, 'succeeded', loose.error ?? '');
      assert.equal((await stat(join(items, 'hostname'))).mode & 0o777, 0o644);
      assert.equal((await stat(join(items, 'motd'))).mode & 0o777, 0o666 & ~umask);
      for (const folder of [join(dir, 'items'), items]) assert.equal((await stat(folder)).mode & 0o777, 0o777 & ~umask, folder);
      const zipped = await runJob(
        engine,
        await engine.files.startItemRestore(
          {
            vm: vm.name,
            point: 'latest',
            paths: ['/disk0/part1/etc'],
            target: { kind: 'local', path: items },
            onClash: 'keep-both',
            archive: 'zip',
          },
          'test',
        ),
      );
      assert.equal(zipped.state, 'succeeded', zipped.error ?? '');
      assert.equal((await stat(zipped.result?.archive as string)).mode & 0o777, 0o666 & ~umask);

      const entries = await walk(home);
      const names = entries.map((entry) => entry.path.slice(home.length + 1));
      for (const expected of [
        'catalog.sqlite',
        'catalog.sqlite-wal',
        'catalog.sqlite-shm',
        'engine.sock',
        'secrets/store.json',
        'repositories/default',
        'tape',
        'lab',
      ])
        assert.ok(names.includes(expected), `${expected} is in the home`);
      const open = entries.filter((entry) => entry.kind !== 'symlink' && (entry.mode & 0o077) !== 0);
      assert.deepEqual(
        open.map((entry) => `${entry.path} ${entry.mode.toString(8)}`),
        [],
        'no group or other bits in the home',
      );
      const [keyFile] = await readdir(process.env.LIFEBOAT_KEYS_DIR as string);
      assert.equal(
        (await stat(join(process.env.LIFEBOAT_KEYS_DIR as string, keyFile as string))).mode & 0o777,
        0o600,
        'the generated key file is private',
      );

      // The restored VM is the operator's: ordinary modes under their umask, folders made too.
      for (const folder of [join(dir, 'restores'), join(dir, 'restores', 'deep'), target])
        assert.equal((await stat(folder)).mode & 0o777, 0o777 & ~umask, folder);
      const published = await readdir(target);
      assert.ok(published.some((name) => name.endsWith('.vmx')));
      for (const name of published) assert.equal((await stat(join(target, name))).mode & 0o777, 0o666 & ~umask, name);
    } finally {
      await engine.close();
    }
  });
}

test('a home others could read (0777, files 0666 from an older Lifeboat) is made private when opened; links out of it and what is not the engine’s are left alone', async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  await mkdir(join(home, 'repositories', 'old'), { recursive: true });
  await writeFile(join(home, 'repositories', 'old', 'data.lbd'), 'old data');
  await writeFile(join(home, 'operator-notes.txt'), 'not the engine’s either');
  await chmod(join(home, 'operator-notes.txt'), 0o644);
  const outside = join(dir, 'outside.txt');
  await writeFile(outside, 'not the engine’s');
  await chmod(outside, 0o644);
  await symlink(outside, join(home, 'repositories', 'link-out'));
  for (const path of [home, join(home, 'repositories'), join(home, 'repositories', 'old')]) await chmod(path, 0o777);
  await chmod(join(home, 'repositories', 'old', 'data.lbd'), 0o666);
  process.umask(0o022);
  const engine = await openServedEngine({ home, workerThreads: 2 });
  await engine.close();
  assert.equal((await stat(home)).mode & 0o777, 0o700);
  assert.equal((await stat(join(home, 'repositories', 'old'))).mode & 0o777, 0o700);
  assert.equal((await stat(join(home, 'repositories', 'old', 'data.lbd'))).mode & 0o777, 0o600);
  assert.equal((await stat(outside)).mode & 0o777, 0o644, 'a file the home links to is not the engine’s to change');
  assert.equal(
    (await stat(join(home, 'operator-notes.txt'))).mode & 0o777,
    0o644,
    'what is not the engine’s keeps its mode (the 0700 home already shuts others out)',
  );
});
