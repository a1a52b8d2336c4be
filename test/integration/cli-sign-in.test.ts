// The CLI's sign-in as an operator runs it, first with no engine running (each command opens its own),
// then with one serving the home: accounts made by the OS user, `login` keeping only a session
// token in a 0600 file, and the four-eyes rule across commands: no `--operator` claim, no
// approval by the OS user.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { makeVmFolder, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
const dir = await tempDir();
const home = join(dir, 'home');
const passwords = { PW_ALICE: 'alice-cli-password', PW_CAROL: 'carol-cli-password' };

type Outcome = { code: number; stdout: string; stderr: string };
async function lifeboat(...args: string[]): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, '--home', home, ...args], {
      timeout: 120_000,
      env: { ...process.env, ...passwords },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

// A backed-up VM, a host that is never reached, and the four-eyes rule on; then the engine closes
// so every CLI command below opens its own.
{
  const engine = await openServedEngine({ home, workerThreads: 2 });
  try {
    const source = join(dir, 'source');
    await mkdir(source);
    await writeMixedRaw(join(dir, 'disk.raw'), 8);
    await makeVmFolder(source, 'ledger', join(dir, 'disk.raw'), 'monolithicFlat');
    assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
    engine.catalog.addHost({
      id: randomUUID(),
      name: 'vc',
      kind: 'vsphere',
      url: 'https://127.0.0.1:9/sdk',
      user: 'root',
      insecure: true,
      createdAt: new Date().toISOString(),
    });
    engine.catalog.updateSettings({ fourEyes: true });
  } finally {
    await engine.close();
  }
}

test('the OS user administers accounts; login keeps a session token (never the password) in a 0600 file; logout ends it', async () => {
  assert.equal((await lifeboat('accounts', 'add', 'alice', '--role', 'operator', '--password-env', 'PW_ALICE')).code, 0);
  assert.equal((await lifeboat('accounts', 'add', 'carol', '--role', 'approver', '--password-env', 'PW_CAROL')).code, 0);
  const whoamiBefore = await lifeboat('whoami');
  assert.match(whoamiBefore.stdout, new RegExp(`^${userInfo().username} \\(os, administrator\\)`));

  const wrong = await lifeboat('login', '--user', 'alice', '--password-env', 'PW_CAROL');
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /wrong user name or password/);

  const login = await lifeboat('login', '--user', 'alice', '--password-env', 'PW_ALICE');
  assert.equal(login.code, 0, login.stderr);
  const [file] = await readdir(join(home, 'sessions'));
  const path = join(home, 'sessions', file as string);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(home, 'sessions'))).mode & 0o777, 0o700);
  const text = await readFile(path, 'utf8');
  assert.ok(!text.includes(passwords.PW_ALICE), 'the password is not kept');
  assert.match((await lifeboat('whoami')).stdout, /^alice \(local, operator\) until /);
  assert.match((await lifeboat('accounts', 'list')).stderr, /alice has the operator role; accounts.list needs the administrator role/);

  await chmod(path, 0o644);
  const loose = await lifeboat('whoami');
  assert.equal(loose.code, 2);
  assert.match(loose.stderr, /readable by others or not yours/);
  await chmod(path, 0o600);

  assert.match((await lifeboat('logout')).stdout, /signed out/);
  await assert.rejects(stat(path), { code: 'ENOENT' });
  // The token the file held no longer signs anyone in, even if it had been copied.
  const again = await lifeboat('whoami');
  assert.match(again.stdout, /\(os, administrator\)/);
});

test('four-eyes across CLI commands to a running engine: --operator is refused, alice and the OS user cannot approve, carol can', async (t) => {
  // A held job lives as long as its engine: the CLI talks to this one over the home's socket.
  const engine = await openServedEngine({ home, workerThreads: 2 });
  t.after(() => engine.close());
  const claimed = await lifeboat('--operator', 'bob', 'jobs');
  assert.equal(claimed.code, 2);
  assert.match(claimed.stderr, /--operator no longer says who you are: sign in with `lifeboat login/);

  assert.equal((await lifeboat('login', '--user', 'alice', '--password-env', 'PW_ALICE')).code, 0);
  const asked = await lifeboat(
    '--json',
    'restore',
    'vm',
    'ledger',
    '--point',
    'latest',
    '--target',
    'vsphere:vc',
    '--original',
    '--yes',
    '--detach',
  );
  assert.equal(asked.code, 0, asked.stderr);
  const job = JSON.parse(asked.stdout) as { id: string; state: string; requestedBy: string };
  assert.deepEqual([job.state, job.requestedBy], ['waiting-for-operator', 'local:alice']);

  assert.match((await lifeboat('jobs', 'approve', job.id)).stderr, /alice has the operator role; jobs.approve needs the approver role/);
  assert.match((await lifeboat('--operator', 'carol', 'jobs', 'approve', job.id)).stderr, /--operator no longer says who you are/);
  await lifeboat('logout');
  assert.match((await lifeboat('jobs', 'approve', job.id)).stderr, /an approval needs a signed-in account, not the engine's OS user/);

  assert.equal((await lifeboat('login', '--user', 'carol', '--password-env', 'PW_CAROL')).code, 0);
  const approved = await lifeboat('jobs', 'approve', job.id);
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, /approved; it is queued/);
  const audit = JSON.parse((await lifeboat('--json', 'audit')).stdout) as { actor: string; action: string; subject: string | null }[];
  assert.ok(audit.some((entry) => entry.actor === 'local:alice' && entry.action === 'restore.entireVm'));
  assert.ok(audit.some((entry) => entry.actor === 'local:carol' && entry.action === 'jobs.approve' && entry.subject === job.id));
  assert.ok(
    audit.some((entry) => entry.actor === `os:${userInfo().username}` && entry.action === 'accounts.add' && entry.subject === 'alice'),
  );
  await lifeboat('logout');
});
