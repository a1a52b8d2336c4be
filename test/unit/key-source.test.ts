// Which secrets key the headless engine uses, and why: flags, then the environment, then
// systemd's credential, then a key file Lifeboat makes outside the home.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseKeySource, type KeySourceInput } from '../../electron/secrets/key-source.ts';

const base: KeySourceInput = { env: {}, userHome: '/home/ops', systemdCredentialPresent: false };
const full: KeySourceInput = {
  ...base,
  env: {
    LIFEBOAT_SECRETS_KEY: 'k',
    LIFEBOAT_SECRETS_KEY_FILE: '/etc/lifeboat/key',
    CREDENTIALS_DIRECTORY: '/run/credentials/lifeboat.service',
    XDG_CONFIG_HOME: '/cfg',
  },
  systemdCredentialPresent: true,
};

test('each source wins over the ones after it', () => {
  assert.deepEqual(chooseKeySource({ ...full, keyFile: 'rel/key' }).source, {
    kind: 'key-file',
    path: `${process.cwd()}/rel/key`,
    origin: '--secrets-key-file',
  });
  assert.deepEqual(chooseKeySource({ ...full, passphraseEnv: 'PASS' }).source, { kind: 'passphrase', variable: 'PASS' });
  assert.deepEqual(chooseKeySource(full).source, { kind: 'key-env', variable: 'LIFEBOAT_SECRETS_KEY' });
  assert.deepEqual(chooseKeySource({ ...full, env: { ...full.env, LIFEBOAT_SECRETS_KEY: '' } }).source, {
    kind: 'key-file',
    path: '/etc/lifeboat/key',
    origin: '$LIFEBOAT_SECRETS_KEY_FILE',
  });
  assert.deepEqual(chooseKeySource({ ...full, env: { CREDENTIALS_DIRECTORY: '/run/credentials/lifeboat.service' } }).source, {
    kind: 'key-file',
    path: '/run/credentials/lifeboat.service/lifeboat-secrets-key',
    origin: 'systemd credential',
  });
});

test('a systemd service without our credential, or nothing at all, gets the generated key folder outside the home', () => {
  assert.deepEqual(chooseKeySource({ ...base, env: { CREDENTIALS_DIRECTORY: '/run/credentials/x' } }).source, {
    kind: 'generated',
    folder: '/home/ops/.config/lifeboat-keys',
  });
  assert.deepEqual(chooseKeySource({ ...base, env: { XDG_CONFIG_HOME: '/cfg' } }).source, {
    kind: 'generated',
    folder: '/cfg/lifeboat-keys',
  });
  assert.deepEqual(chooseKeySource({ ...base, env: { XDG_CONFIG_HOME: '/cfg', LIFEBOAT_KEYS_DIR: '/srv/keys' } }).source, {
    kind: 'generated',
    folder: '/srv/keys',
  });
  assert.match(chooseKeySource(base).reason, /no key configured: a key file Lifeboat keeps in \/home\/ops\/\.config\/lifeboat-keys/);
});

test('a key file and a passphrase together are one clear error', () => {
  assert.throws(() => chooseKeySource({ ...base, keyFile: '/k', passphraseEnv: 'P' }), { code: 'bad-request', message: /not both/ });
});
