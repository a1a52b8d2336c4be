// The CLI's secrets key options, end to end in child processes: a key the operator gives that
// cannot work is one clear line and leaves no home behind; an old home moves off its in-home key
// on the first start with a key source; `serve` says where the key is.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { keyFileSealer } from '../../electron/secrets/secret-store.ts';
import { tempDir } from '../helpers/env.ts';

const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');

function lifeboat(args: string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ status: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

test('a key file others can read, a missing one, or two sources at once: one line, exit 2, no home made', async () => {
  const dir = await tempDir();
  const home = join(dir, 'new-home');
  const loose = join(dir, 'loose.key');
  await writeFile(loose, randomBytes(32), { mode: 0o644 });
  const cases: [string[], RegExp][] = [
    [
      ['--secrets-key-file', loose],
      /^lifeboat: secrets key file .*loose\.key can be read by others \(mode 644\); `chmod 600 .*loose\.key` first\n$/,
    ],
    [
      ['--secrets-key-file', join(dir, 'nope.key')],
      /^lifeboat: secrets key file .*nope\.key \(--secrets-key-file\) does not exist; make one with `openssl rand -base64 32 > /,
    ],
    [
      ['--secrets-key-file', loose, '--secrets-passphrase-env', 'P'],
      /^lifeboat: give --secrets-key-file or --secrets-passphrase-env, not both\n$/,
    ],
    [
      ['--secrets-passphrase-env', 'UNSET_PASSPHRASE_VARIABLE'],
      /^lifeboat: environment variable UNSET_PASSPHRASE_VARIABLE \(--secrets-passphrase-env\) is empty or not set\n$/,
    ],
  ];
  for (const [flags, message] of cases) {
    const run = await lifeboat(['--home', home, ...flags, 'vms']);
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, message);
    await assert.rejects(stat(home), { code: 'ENOENT' }, `${flags.join(' ')} made no home`);
  }
  const hexInEnv = await lifeboat(['--home', home, 'vms'], { LIFEBOAT_SECRETS_KEY: randomBytes(32).toString('hex') });
  assert.equal(hexInEnv.status, 2);
  assert.match(hexInEnv.stderr, /^lifeboat: \$LIFEBOAT_SECRETS_KEY is not a secrets key/);
});

test('an old home with its key inside is moved to the key file named in the environment on first start', async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  await mkdir(join(home, 'secrets'), { recursive: true });
  const oldKey = randomBytes(32);
  await writeFile(join(home, 'secrets', 'key'), oldKey, { mode: 0o600 });
  await writeFile(join(home, 'secrets', 'host-1.secret'), keyFileSealer(oldKey).seal('esxi root password'), { mode: 0o600 });
  const newKey = join(dir, 'lifeboat.key');
  await writeFile(newKey, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const run = await lifeboat(['--home', home, 'vms'], { LIFEBOAT_SECRETS_KEY_FILE: newKey });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual((await readdir(join(home, 'secrets'))).sort(), ['host-1.secret', 'store.json']);
});

test('`serve` says which key seals the secrets', async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const key = join(dir, 'serve.key');
  await writeFile(key, randomBytes(32), { mode: 0o600 });
  const server = spawn(process.execPath, [cli, '--home', home, '--secrets-key-file', key, 'serve', '--port', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => server.once('exit', resolve));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error('serve printed nothing in 30 s')), 30_000);
      server.stdout?.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('\n')) {
          clearTimeout(timer);
          resolve(text.split('\n')[0] as string);
        }
      });
    });
    const printed = JSON.parse(line) as { secrets: string };
    assert.equal(printed.secrets, `key file ${key} (--secrets-key-file)`);
  } finally {
    server.kill('SIGTERM');
    await exited;
  }
});
