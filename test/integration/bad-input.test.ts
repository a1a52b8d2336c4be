// Bad input gets one clear error and leaves nothing behind: not in the target, not in the
// repository, not in the catalog's inventory.
import assert from 'node:assert/strict';
import { mkdir, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { asOwner } from '../helpers/owner.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { requestChannelNames } from '../../shared/generated/channels.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import { makeVmFolder, openEngine, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

async function backedUpVm(): Promise<{ dir: string; engine: Engine; vmId: string }> {
  const dir = await tempDir();
  const engine = await openEngine(join(dir, 'home'));
  const source = join(dir, 'source');
  await mkdir(source);
  await writeMixedRaw(join(dir, 'disk.raw'), 12);
  await makeVmFolder(source, 'beta', join(dir, 'disk.raw'), 'monolithicFlat');
  const job = await runJob(engine, await engine.backups.start(source, 'test'));
  assert.equal(job.state, 'succeeded', job.error ?? '');
  return { dir, engine, vmId: engine.lookup.resolveVm('beta').id };
}

async function dataFileOf(engine: Engine, vmId: string): Promise<string> {
  const [manifest] = await engine.repository.listPoints(vmId);
  assert.ok(manifest);
  return join(engine.repository.pointFolder(manifest), 'data.lbd');
}

test('unknown VM and point are refused before a job exists; a non-empty target fails the job untouched', async () => {
  const { dir, engine } = await backedUpVm();
  await assert.rejects(engine.restores.start({ vm: 'nope', point: 'latest', target: { kind: 'local', path: join(dir, 'x') } }, 'test'), {
    code: 'not-found',
    message: /no VM "nope"/,
  });
  await assert.rejects(engine.restores.start({ vm: 'beta', point: '99', target: { kind: 'local', path: join(dir, 'x') } }, 'test'), {
    code: 'not-found',
    message: /no restore point "99"/,
  });
  const busy = join(dir, 'busy');
  await mkdir(busy);
  await writeFile(join(busy, 'keep.txt'), 'mine');
  const job = await runJob(
    engine,
    await engine.restores.start({ vm: 'beta', point: 'latest', target: { kind: 'local', path: busy } }, 'test'),
  );
  assert.equal(job.state, 'failed');
  assert.match(job.error ?? '', /not empty/);
  assert.deepEqual(await readdir(busy), ['keep.txt']);
});

test('a flipped bit in a stored block fails the restore naming VM, disk and offset, and leaves no files', async () => {
  const { dir, engine, vmId } = await backedUpVm();
  const data = await dataFileOf(engine, vmId);
  const handle = await open(data, 'r+');
  const byte = Buffer.alloc(1);
  await handle.read(byte, 0, 1, 100);
  byte[0] = (byte[0] as number) ^ 0x10;
  await handle.write(byte, 0, 1, 100);
  await handle.close();
  const target = join(dir, 'restored');
  const job = await runJob(
    engine,
    await engine.restores.start({ vm: 'beta', point: 'latest', target: { kind: 'local', path: target } }, 'test'),
  );
  assert.equal(job.state, 'failed');
  assert.match(job.error ?? '', /VM beta, point 1, disk scsi0:0 \(beta\.vmdk\), offset \d+: corrupt block/);
  await assert.rejects(stat(target), { code: 'ENOENT' }, 'the target folder this restore created is gone');
});

test('a truncated data file is named before anything is written', async () => {
  const { dir, engine, vmId } = await backedUpVm();
  const data = await dataFileOf(engine, vmId);
  await truncate(data, (await stat(data)).size - 10);
  const target = join(dir, 'restored');
  // The copy a restore reads is checked before a job exists.
  await assert.rejects(engine.restores.start({ vm: 'beta', point: 'latest', target: { kind: 'local', path: target } }, 'test'), {
    code: 'corrupt-backup',
    message: /truncated or overwritten/,
  });
  await assert.rejects(stat(target), { code: 'ENOENT' });
});

test('a missing or malformed .vmx and a missing disk are clear errors and add nothing to the catalog', async () => {
  const { dir, engine } = await backedUpVm();
  const before = engine.catalog.listVms();
  const empty = join(dir, 'empty');
  await mkdir(empty);
  await assert.rejects(engine.backups.start(empty, 'test'), { code: 'invalid-source', message: /holds no \.vmx/ });
  await writeFile(join(empty, 'bad.vmx'), 'displayName = "x"\nthis is not vmx\n');
  await assert.rejects(engine.backups.start(empty, 'test'), { code: 'invalid-source', message: /line 2 is not of the form/ });
  await writeFile(join(empty, 'bad.vmx'), 'displayName = "gamma"\nscsi0:0.fileName = "gone.vmdk"\n');
  const job = await runJob(engine, await engine.backups.start(empty, 'test'));
  assert.equal(job.state, 'failed');
  assert.match(job.error ?? '', /gone\.vmdk does not exist/);
  assert.deepEqual(engine.catalog.listVms(), before);
  await assert.rejects(engine.backups.start(join(dir, 'no-such-folder'), 'test'), { code: 'invalid-source', message: /does not exist/ });
});

test('a backup that fails midway leaves no partial point in the repository', async () => {
  const { dir, engine, vmId } = await backedUpVm();
  const source = join(dir, 'source');
  await rm(join(source, 'beta-flat.vmdk'));
  await writeFile(join(source, 'beta-flat.vmdk'), 'short');
  const job = await runJob(engine, await engine.backups.start(source, 'test'));
  assert.equal(job.state, 'failed');
  assert.match(job.error ?? '', /the descriptor needs/);
  const names = await readdir(engine.repository.pointsFolder(vmId));
  assert.equal(names.filter((name) => name.startsWith('.partial')).length, 0);
  assert.equal((await engine.repository.listPoints(vmId)).length, 1);
});

test('a cancelled restore removes what it staged', async () => {
  const { dir, engine } = await backedUpVm();
  const target = join(dir, 'cancelled');
  const job = await engine.restores.start({ vm: 'beta', point: 'latest', target: { kind: 'local', path: target } }, 'test');
  engine.jobs.cancel(job.id);
  const ended = await runJob(engine, job);
  assert.equal(ended.state, 'cancelled');
  await assert.rejects(stat(target), { code: 'ENOENT' });
});

test('malformed contract payloads and unknown channels are refused by the dispatcher', async () => {
  const { engine } = await backedUpVm();
  await assert.rejects(dispatch(engine, asOwner(), 'vms.drop', {}), { code: 'bad-request', message: /unknown channel/ });
  await assert.rejects(
    dispatch(engine, asOwner(), 'restore.entireVm', { vm: 'beta', point: 'latest', target: { kind: 'nfs', path: '/x' } }),
    { code: 'bad-request', message: /at target\.kind/ },
  );
  await assert.rejects(
    dispatch(engine, asOwner(), 'restore.entireVm', {
      vm: 'beta',
      point: 'latest',
      target: { kind: 'local', path: '/x' },
      newName: '../../etc',
    }),
    { code: 'bad-request', message: /at newName/ },
  );
  await assert.rejects(dispatch(engine, asOwner(), 'points.list', { vm: 'beta', extra: true }), { code: 'bad-request' });
  assert.equal(JSON.parse(await readFile(join(engine.repository.path, 'repository.json'), 'utf8')).format, 'lifeboat-repository');
});

test('verify checks every block of every point and names the first damaged one', async () => {
  const { engine, vmId } = await backedUpVm();
  const clean = await runJob(engine, await engine.verifies.start('beta', undefined, 'test'));
  assert.equal(clean.state, 'succeeded', clean.error ?? '');
  assert.ok((clean.result?.bytesChecked as number) > 0);
  const data = await dataFileOf(engine, vmId);
  const handle = await open(data, 'r+');
  await handle.write(Buffer.from([0xff, 0x00, 0xff]), 0, 3, 1000);
  await handle.close();
  const damaged = await runJob(engine, await engine.verifies.start('beta', '1', 'test'));
  assert.equal(damaged.state, 'failed');
  assert.match(damaged.error ?? '', /VM beta, point 1, disk scsi0:0 \(beta\.vmdk\), offset \d+: corrupt block/);
});

test('contract fuzz: random payloads on every channel that reaches no host get an answer or a clear error', async () => {
  const { engine } = await backedUpVm();
  // Channels that connect to a host (or a directory) are left out: a random URL must never be dialled.
  const channels = requestChannelNames.filter(
    (name) => !['hosts.add', 'hosts.inventory', 'restore.previewOriginal', 'directory.set', 'auth.login'].includes(name),
  );
  let calls = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...channels),
      fc.oneof(fc.jsonValue(), fc.record({ vm: fc.string(), point: fc.string(), jobId: fc.string(), target: fc.jsonValue() })),
      async (channel, payload) => {
        calls++;
        try {
          await dispatch(engine, asOwner(), channel, payload);
        } catch (error) {
          assert.ok(error instanceof LifeboatError, `${channel}: ${(error as Error).constructor.name}: ${(error as Error).message}`);
        }
      },
    ),
    { numRuns: 300 },
  );
  assert.ok(calls >= 300);
});

test('a missing chain link is named before anything is written', async () => {
  const { dir, engine, vmId } = await backedUpVm();
  const source = join(dir, 'source');
  const raw = join(dir, 'disk.raw');
  const handle = await open(raw, 'r+');
  await handle.write(Buffer.alloc(65536, 7), 0, 65536, 0);
  await handle.close();
  await makeVmFolder(source, 'beta', raw, 'monolithicFlat');
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  const [full] = await engine.repository.listPoints(vmId);
  assert.ok(full);
  await rm(engine.repository.pointFolder(full), { recursive: true });
  const target = join(dir, 'restored');
  await assert.rejects(engine.restores.start({ vm: 'beta', point: '2', target: { kind: 'local', path: target } }, 'test'), {
    code: 'corrupt-backup',
    message: /restore point 2 of beta needs point [0-9a-f-]+, which is missing from the repository/,
  });
  await assert.rejects(stat(target), { code: 'ENOENT' });
});
