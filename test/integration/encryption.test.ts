// Encrypted backups: blocks sealed with AES-256-GCM under a chain key that only a scrypt-derived
// key unwraps. A point restores only with the right password (or its recovery key, or a key the
// operator chose to remember); a wrong or missing one is refused before any job or file exists.
// The lost-password path: a recovery key file sets a new password.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, mkdir, open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { changeRaw, makeVmFolder, openEngine, qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const MIB = 1024 * 1024;
const PASSWORD = 'correct horse battery staple';
const dir = await tempDir();
const engine = await openEngine(join(dir, 'home'));
const api = inProcessApi(engine);
const folder = join(dir, 'vm');
await mkdir(folder);
const raw = join(dir, 'vault.raw');
await writeMixedRaw(raw, 8, 1); // block 1 is random: stored as it is unless sealed
const firstGeneration = join(dir, 'gen1.raw');
await makeVmFolder(folder, 'vault', raw, 'monolithicFlat');
qemuImg('convert', '-f', 'raw', '-O', 'raw', raw, firstGeneration);
const repository = join(dir, 'home', 'repositories', 'default');

async function restore(
  name: string,
  credentials: { password?: string; recoveryKey?: string },
  point = '1',
): Promise<{ path: string; job: Awaited<ReturnType<typeof runJob>> }> {
  const path = join(dir, 'restored', name);
  const { job } = await api.invoke('restore.entireVm', { vm: 'vault', point, target: { kind: 'local', path }, ...credentials });
  return { path, job: await runJob(engine, job) };
}

async function jobCount(): Promise<number> {
  return (await api.invoke('jobs.list', {})).length;
}

test('an encrypted backup seals every block: the random block is nowhere in the repository', async () => {
  await assert.rejects(api.invoke('backup.start', { source: { kind: 'local', path: folder }, encrypt: true }), {
    code: 'bad-request',
    message: /needs a password/,
  });
  await assert.rejects(api.invoke('backup.start', { source: { kind: 'local', path: folder }, encrypt: true, password: 'short' }), {
    code: 'bad-request',
    message: /at least 8 characters/,
  });
  const job = await runJob(
    engine,
    (await api.invoke('backup.start', { source: { kind: 'local', path: folder }, encrypt: true, password: PASSWORD })).job,
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const [point] = await api.invoke('points.list', { vm: 'vault' });
  assert.match(point?.keyId ?? '', /^[0-9a-f-]{36}$/);
  const handle = await open(raw, 'r');
  const probe = Buffer.alloc(64);
  await handle.read(probe, 0, 64, MIB);
  await handle.close();
  const vmFolder = join(repository, 'vms', engine.lookup.resolveVm('vault').id, 'points');
  const [pointFolder] = await readdir(vmFolder);
  const data = await readFile(join(vmFolder, pointFolder as string, 'data.lbd'));
  assert.equal(data.indexOf(probe), -1, 'the random block is not stored in the clear');
  const keyFile = JSON.parse(await readFile(join(repository, 'keys', `${point?.keyId}.json`), 'utf8')) as {
    kdf: { name: string };
    wrap: { cipher: string };
  };
  assert.deepEqual([keyFile.kdf.name, keyFile.wrap.cipher], ['scrypt', 'aes-256-gcm']);
  assert.ok(!JSON.stringify(await api.invoke('jobs.get', { jobId: job.id })).includes(PASSWORD), 'the password is not in the job record');
});

test('no password or a wrong one is refused before any job or file exists; the right one restores identical disks', async () => {
  const jobs = await jobCount();
  await assert.rejects(restore('none', {}), {
    code: 'unauthorized',
    message: /point 1 of vault is encrypted \(key [0-9a-f-]+\): give its password/,
  });
  await assert.rejects(restore('wrong', { password: 'not the password' }), {
    code: 'unauthorized',
    message: /wrong password for encryption key/,
  });
  assert.equal(await jobCount(), jobs, 'no job was created');
  await assert.rejects(access(join(dir, 'restored')), { code: 'ENOENT' });
  const { path, job } = await restore('right', { password: PASSWORD });
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', firstGeneration, join(path, 'vault.vmdk')), /identical/);
});

test('an encrypted chain goes on encrypted, and only with its password', async () => {
  await changeRaw(raw, 1);
  await makeVmFolder(folder, 'vault', raw, 'monolithicFlat');
  await assert.rejects(api.invoke('backup.start', { source: { kind: 'local', path: folder } }), {
    code: 'unauthorized',
    message: /the chain of vault is encrypted/,
  });
  await assert.rejects(api.invoke('backup.start', { source: { kind: 'local', path: folder }, password: 'not the password' }), {
    code: 'unauthorized',
  });
  const job = await runJob(engine, (await api.invoke('backup.start', { source: { kind: 'local', path: folder }, password: PASSWORD })).job);
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const points = await api.invoke('points.list', { vm: 'vault' });
  assert.equal(points[0]?.keyId, points[1]?.keyId);
  const { path, job: restored } = await restore('incremental', { password: PASSWORD }, '2');
  assert.equal(restored.state, 'succeeded', restored.error ?? '');
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raw, join(path, 'vault.vmdk')), /identical/);
});

test('a lost password: the recovery key file restores and sets a new password; the old one stops working', async () => {
  const [key] = await api.invoke('keys.list', {});
  assert.ok(key);
  assert.deepEqual([key.vms, key.stored], [['vault'], false]);
  await assert.rejects(api.invoke('keys.recovery', { keyId: key.keyId, password: 'not the password' }), { code: 'unauthorized' });
  const { text } = await api.invoke('keys.recovery', { keyId: key.keyId, password: PASSWORD });
  const recovered = await restore('recovered', { recoveryKey: text });
  assert.equal(recovered.job.state, 'succeeded', recovered.job.error ?? '');
  const forged = text.replace(/"key": "[^"]+"/, `"key": "${Buffer.alloc(32, 7).toString('base64')}"`);
  await assert.rejects(restore('forged', { recoveryKey: forged }), { code: 'unauthorized', message: /not encryption key/ });
  await assert.rejects(restore('garbage', { recoveryKey: 'not json' }), { code: 'bad-request', message: /not JSON/ });

  await api.invoke('keys.setPassword', { keyId: key.keyId, recoveryKey: text, newPassword: 'a brand new password' });
  await assert.rejects(restore('old', { password: PASSWORD }), { code: 'unauthorized', message: /wrong password/ });
  assert.equal((await restore('new', { password: 'a brand new password' })).job.state, 'succeeded');
});

test('a remembered key restores without a password until it is forgotten', async () => {
  const [key] = await api.invoke('keys.list', {});
  assert.ok(key);
  assert.equal((await api.invoke('keys.remember', { keyId: key.keyId, password: 'a brand new password' })).stored, true);
  assert.equal((await restore('remembered', {})).job.state, 'succeeded');
  const files = await api.invoke('files.list', { vm: 'vault', point: '1', path: '/' });
  assert.ok(Array.isArray(files));
  assert.equal((await api.invoke('keys.forget', { keyId: key.keyId })).stored, false);
  await assert.rejects(restore('forgotten', {}), { code: 'unauthorized' });
  await assert.rejects(api.invoke('keys.forget', { keyId: '00000000-0000-4000-8000-000000000000' }), {
    code: 'not-found',
    message: /no encryption key/,
  });
  await assert.rejects(api.invoke('verify.start', { vm: 'vault' }), { code: 'unauthorized' });
  const verified = await runJob(engine, (await api.invoke('verify.start', { vm: 'vault', password: 'a brand new password' })).job);
  assert.equal(verified.state, 'succeeded', verified.error ?? '');
});

test('the CLI: a recovery key file exported and used, a wrong password refused with one clear line', async () => {
  const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
  const home = join(dir, 'home');
  // Asynchronous: the CLI talks to this process's engine over its socket.
  const run = (args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        [cli, '--home', home, ...args],
        { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 },
        (error, stdout, stderr) => {
          resolve({ status: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
        },
      );
    });
  const [key] = await api.invoke('keys.list', {});
  const recoveryFile = join(dir, 'vault.recovery-key');
  const exported = await run(['keys', 'export', key?.keyId as string, '--password-env', 'PW', '--out', recoveryFile], {
    PW: 'a brand new password',
  });
  assert.equal(exported.status, 0, exported.stderr);
  assert.equal((await stat(recoveryFile)).mode & 0o777, 0o600);
  const again = await run(['keys', 'export', key?.keyId as string, '--password-env', 'PW', '--out', recoveryFile], {
    PW: 'a brand new password',
  });
  assert.equal(again.status, 2);
  assert.match(again.stderr, /exists already; a recovery key is never written over a file/);
  const wrong = await run(
    ['restore', 'vm', 'vault', '--point', '1', '--target', `local:${join(dir, 'cli-wrong')}`, '--password-env', 'PW'],
    { PW: 'nope nope nope' },
  );
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /^lifeboat: wrong password for encryption key/);
  await assert.rejects(access(join(dir, 'cli-wrong')), { code: 'ENOENT' });
  const restored = await run([
    'restore',
    'vm',
    'vault',
    '--point',
    '2',
    '--target',
    `local:${join(dir, 'cli-restored')}`,
    '--recovery-key',
    recoveryFile,
  ]);
  assert.equal(restored.status, 0, restored.stderr);
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raw, join(dir, 'cli-restored', 'vault.vmdk')), /identical/);
  assert.match((await run(['points', 'vault'])).stdout, /ENCRYPTED.*\n.*yes/);
});

test('a sealed block that was tampered with fails the restore: it does not authenticate', async () => {
  const vmFolder = join(repository, 'vms', engine.lookup.resolveVm('vault').id, 'points');
  const [pointFolder] = await readdir(vmFolder);
  const handle = await open(join(vmFolder, pointFolder as string, 'data.lbd'), 'r+');
  const byte = Buffer.alloc(1);
  await handle.read(byte, 0, 1, 40);
  await handle.write(Buffer.from([(byte[0] as number) ^ 0xff]), 0, 1, 40);
  await handle.close();
  const { job } = await restore('tampered', { password: 'a brand new password' });
  assert.equal(job.state, 'failed');
  assert.match(job.error ?? '', /does not authenticate/);
});
