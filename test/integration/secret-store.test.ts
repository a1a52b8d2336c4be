// The secret store's key lives outside the home: whoever copies the home gets sealed files and
// no key. Key files inside the home or readable by others are refused, a wrong key is named at
// start, and an old home's key (<home>/secrets/key) is retired without losing a secret at any
// kill point.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { LifeboatError } from '../../electron/errors.ts';
import type { KeySource } from '../../electron/secrets/key-source.ts';
import type { CrashPoint } from '../../electron/secrets/legacy-migration.ts';
import { FileSecretStore, keyFileSealer } from '../../electron/secrets/secret-store.ts';
import { tempDir } from '../helpers/env.ts';

const SECRETS = { 'host-a': 'vcenter password one', 'host-b': 'p@ss wörd two', 'azure-c': 'x'.repeat(300) };

async function allFiles(folder: string): Promise<Buffer[]> {
  const files: Buffer[] = [];
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true }))
    if (entry.isFile()) files.push(await readFile(join(entry.parentPath, entry.name)));
  return files;
}

async function keyFile(dir: string, name: string, content: Buffer | string = randomBytes(32), mode = 0o600): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content, { mode });
  await chmod(path, mode);
  return path;
}

const openStore = (home: string, source: KeySource, crashAt?: CrashPoint) =>
  FileSecretStore.open(join(home, 'secrets'), { home, source, crashAt });

async function putAll(store: FileSecretStore): Promise<void> {
  for (const [id, secret] of Object.entries(SECRETS)) await store.put(id, secret);
}

async function assertAll(store: FileSecretStore): Promise<void> {
  for (const [id, secret] of Object.entries(SECRETS)) assert.equal(await store.get(id), secret, id);
}

test('with no key configured, a key file is made outside the home with the first secret, and a copied home opens nothing', async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const keys = join(dir, 'config', 'lifeboat-keys');
  const store = await openStore(home, { kind: 'generated', folder: keys });
  await assert.rejects(stat(keys), { code: 'ENOENT' }, 'no secret yet, no key made');
  await putAll(store);
  const [made] = await readdir(keys);
  assert.match(made ?? '', /^[0-9a-f-]{36}\.key$/);
  const key = await readFile(join(keys, made as string));
  assert.equal((await stat(join(keys, made as string))).mode & 0o777, 0o600);
  assert.match(store.description, new RegExp(`key file ${keys}/.+\\.key \\(made by Lifeboat\\)`));
  await assertAll(await openStore(home, { kind: 'generated', folder: keys }));
  // The attacker's copy: every byte of the home, and no key anywhere in it.
  for (const file of await allFiles(home)) {
    assert.equal(file.indexOf(key), -1);
    assert.equal(file.indexOf(key.toString('base64')), -1);
    for (const secret of Object.values(SECRETS)) assert.equal(file.indexOf(secret), -1);
  }
  const copy = join(dir, 'copied-home');
  await cp(home, copy, { recursive: true });
  const stolen = await openStore(copy, { kind: 'generated', folder: join(dir, 'attacker-config') });
  assert.equal(stolen.kind, 'locked');
  await assert.rejects(stolen.get('host-a'), { code: 'unauthorized', message: /sealed with a key file Lifeboat made outside the home/ });
  await assert.rejects(stolen.put('host-z', 'new'), { code: 'unauthorized' });
});

test('a key file given by the operator must be outside the home, private, and a key', async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  await mkdir(home);
  const fileSource = (path: string): KeySource => ({ kind: 'key-file', path, origin: '--secrets-key-file' });
  await assert.rejects(openStore(home, fileSource(await keyFile(home, 'inside.key'))), {
    code: 'bad-request',
    message: /is inside the home/,
  });
  await mkdir(join(dir, 'link'));
  await symlink(join(home, 'inside.key'), join(dir, 'link', 'k'));
  await assert.rejects(
    openStore(home, fileSource(join(dir, 'link', 'k'))),
    { code: 'bad-request', message: /is inside the home/ },
    'a symlink into the home is the same file',
  );
  await assert.rejects(openStore(home, fileSource(await keyFile(dir, 'loose.key', randomBytes(32), 0o644))), {
    code: 'unauthorized',
    message: /can be read by others \(mode 644\); `chmod 600/,
  });
  await assert.rejects(openStore(home, fileSource(await keyFile(dir, 'group.key', randomBytes(32), 0o640))), { code: 'unauthorized' });
  await assert.rejects(openStore(home, fileSource(join(dir, 'missing.key'))), {
    code: 'not-found',
    message: /does not exist; make one with `openssl rand -base64 32/,
  });
  await assert.rejects(openStore(home, fileSource(await keyFile(dir, 'short.key', randomBytes(31)))), {
    code: 'bad-request',
    message: /is not a secrets key/,
  });
  await assert.rejects(openStore(home, fileSource(await keyFile(dir, 'text.key', 'hunter2\n'))), {
    code: 'bad-request',
    message: /is not a secrets key/,
  });
  await assert.rejects(openStore(home, fileSource(dir)), { code: 'bad-request', message: /is not a regular file/ });
  assert.deepEqual(await readdir(join(home, 'secrets')).catch(() => []), [], 'a refused key leaves nothing in the home');

  const raw = randomBytes(32);
  const store = await openStore(home, fileSource(await keyFile(dir, 'good.key', raw)));
  await putAll(store);
  // The same key as base64 text (openssl rand -base64 32), in a file or in the environment.
  await assertAll(await openStore(home, fileSource(await keyFile(dir, 'good.b64', `${raw.toString('base64')}\n`))));
  process.env.TEST_SECRETS_KEY = raw.toString('base64');
  await assertAll(await openStore(home, { kind: 'key-env', variable: 'TEST_SECRETS_KEY' }));
  process.env.TEST_SECRETS_KEY = raw.toString('hex');
  await assert.rejects(openStore(home, { kind: 'key-env', variable: 'TEST_SECRETS_KEY' }), {
    code: 'bad-request',
    message: /\$TEST_SECRETS_KEY is not a secrets key/,
  });
  await assert.rejects(openStore(home, fileSource(await keyFile(dir, 'other.key'))), {
    code: 'unauthorized',
    message: /does not open this home's secret store/,
  });
  delete process.env.TEST_SECRETS_KEY;
});

test('a passphrase opens the store it sealed and no other', async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const source: KeySource = { kind: 'passphrase', variable: 'TEST_SECRETS_PASSPHRASE' };
  process.env.TEST_SECRETS_PASSPHRASE = 'short';
  await assert.rejects(openStore(home, source), { code: 'bad-request', message: /at least 12 characters/ });
  process.env.TEST_SECRETS_PASSPHRASE = 'correct horse battery staple';
  await putAll(await openStore(home, source));
  await assertAll(await openStore(home, source));
  process.env.TEST_SECRETS_PASSPHRASE = 'correct horse battery stapler';
  await assert.rejects(openStore(home, source), {
    code: 'unauthorized',
    message: /a passphrase from \$TEST_SECRETS_PASSPHRASE does not open/,
  });
  delete process.env.TEST_SECRETS_PASSPHRASE;
  await assert.rejects(openStore(home, source), { code: 'bad-request', message: /TEST_SECRETS_PASSPHRASE .* is empty or not set/ });
  const locked = await openStore(home, { kind: 'generated', folder: join(dir, 'keys') });
  await assert.rejects(locked.get('host-a'), {
    code: 'unauthorized',
    message: /sealed with a passphrase; give it with --secrets-passphrase-env/,
  });
});

/** A home as Lifeboat 0.1 left it: the key beside the secrets it seals. */
async function legacyHome(dir: string, name: string): Promise<{ home: string; key: Buffer }> {
  const home = join(dir, name);
  const folder = join(home, 'secrets');
  await mkdir(folder, { recursive: true });
  const key = randomBytes(32);
  await writeFile(join(folder, 'key'), key, { mode: 0o600 });
  const sealer = keyFileSealer(key);
  for (const [id, secret] of Object.entries(SECRETS)) await writeFile(join(folder, `${id}.secret`), sealer.seal(secret), { mode: 0o600 });
  await writeFile(join(folder, 'damaged.secret'), randomBytes(40)); // unreadable before, carried as it is
  return { home, key };
}

test('an old home: every secret is re-sealed under the new key and the old key is gone', async () => {
  const dir = await tempDir();
  const { home, key } = await legacyHome(dir, 'home');
  const newKey = await keyFile(dir, 'new.key');
  const store = await openStore(home, { kind: 'key-file', path: newKey, origin: '--secrets-key-file' });
  await assertAll(store);
  await assert.rejects(store.get('damaged'), { code: 'unauthorized', message: /cannot be decrypted here/ });
  assert.deepEqual((await readdir(join(home, 'secrets'))).sort(), [
    'azure-c.secret',
    'damaged.secret',
    'host-a.secret',
    'host-b.secret',
    'store.json',
  ]);
  // The old key no longer opens what is in the home: every secret was re-sealed.
  assert.throws(() => keyFileSealer(key).open(readFileSyncOf(home, 'host-a')));
  for (const file of await allFiles(home)) assert.equal(file.indexOf(key), -1);
});

const readFileSyncOf = (home: string, id: string) => readFileSync(join(home, 'secrets', `${id}.secret`));

test('a migration killed at any point loses no secret, and the next start finishes it', async () => {
  const dir = await tempDir();
  const newKey = await keyFile(dir, 'new.key');
  const source: KeySource = { kind: 'key-file', path: newKey, origin: '--secrets-key-file' };
  // Every point the migration passes, each time it passes it (4 secrets sealed, 4 moved).
  const points: [Parameters<CrashPoint>[0], number][] = [
    ...[1, 2, 3, 4].map((n): [Parameters<CrashPoint>[0], number] => ['sealed-one', n]),
    ['staged', 1],
    ['committed', 1],
    ...[1, 2, 3, 4].map((n): [Parameters<CrashPoint>[0], number] => ['moved-one', n]),
    ['info-moved', 1],
  ];
  for (const [point, nth] of points) {
    const { home } = await legacyHome(dir, `home-${point}-${nth}`);
    let seen = 0;
    const crash: CrashPoint = (at) => {
      if (at === point && ++seen === nth) throw new Error(`killed at ${at} #${nth}`);
    };
    await assert.rejects(openStore(home, source, crash), { message: `killed at ${point} #${nth}` });
    const left = await readdir(join(home, 'secrets'));
    if (!left.includes('store.json') && !left.includes('rewrap.done'))
      assert.ok(left.includes('key'), `before the commit the old key stays (${point} #${nth})`);
    const reopened = await openStore(home, source);
    await assertAll(reopened);
    assert.deepEqual(
      (await readdir(join(home, 'secrets'))).sort(),
      ['azure-c.secret', 'damaged.secret', 'host-a.secret', 'host-b.secret', 'store.json'],
      `${point} #${nth}`,
    );
  }
});

test('a damaged store description is one clear error', async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const source: KeySource = { kind: 'key-file', path: await keyFile(dir, 'k.key'), origin: '--secrets-key-file' };
  await putAll(await openStore(home, source));
  await writeFile(join(home, 'secrets', 'store.json'), '{"format":"lifeboat-secret-store"');
  await assert.rejects(
    openStore(home, source),
    (error: unknown) => error instanceof LifeboatError && error.code === 'corrupt-backup' && /store\.json is damaged/.test(error.message),
  );
});

test("what an older app sealed with safeStorage's fixed-password backend is re-sealed under the new key", async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  await mkdir(join(home, 'secrets'), { recursive: true });
  // Stands in for safeStorage's 'basic_text' backend: one fixed key for every install.
  const basicText = keyFileSealer(Buffer.alloc(32, 7));
  for (const [id, secret] of Object.entries(SECRETS)) await writeFile(join(home, 'secrets', `${id}.secret`), basicText.seal(secret));
  const keys = join(dir, 'keys');
  const store = await FileSecretStore.open(join(home, 'secrets'), {
    home,
    source: { kind: 'generated', folder: keys },
    formerSealer: basicText,
  });
  await assertAll(store);
  assert.equal((await readdir(keys)).length, 1, 'the new key was made outside the home');
  assert.throws(() => basicText.open(readFileSyncOf(home, 'host-a')), 'the fixed key no longer opens them');
  await assertAll(await openStore(home, { kind: 'generated', folder: keys }));
});
