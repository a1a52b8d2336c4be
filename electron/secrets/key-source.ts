// Where the headless engine's secret-store key comes from: a pure decision with its reason, so
// the operator is told which source won and why. The key never lives in the home it protects.
import { join, resolve } from 'node:path';
import { LifeboatError } from '../errors.ts';

export const KEY_ENV = 'LIFEBOAT_SECRETS_KEY';
export const KEY_FILE_ENV = 'LIFEBOAT_SECRETS_KEY_FILE';
export const KEYS_DIR_ENV = 'LIFEBOAT_KEYS_DIR';
export const SYSTEMD_CREDENTIAL = 'lifeboat-secrets-key';

export type KeySource =
  /** 32 raw bytes or their base64, in a 0600 file outside the home. */
  | { kind: 'key-file'; path: string; origin: string }
  /** base64 of 32 bytes in an environment variable. */
  | { kind: 'key-env'; variable: string }
  /** A passphrase in an environment variable, stretched with scrypt (salt kept in the home). */
  | { kind: 'passphrase'; variable: string }
  /** Nothing configured: a random key Lifeboat makes in the user's config folder, outside the home. */
  | { kind: 'generated'; folder: string };

export type KeySourceInput = {
  keyFile?: string | undefined;
  passphraseEnv?: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
  /** The user's home folder, for the default config folder. */
  userHome: string;
  /** Whether $CREDENTIALS_DIRECTORY holds our credential (the caller looks; this stays pure). */
  systemdCredentialPresent: boolean;
};

/** Command-line flags first (the operator chose them now), then the environment, then systemd's
 * credential, then a generated key file. */
export function chooseKeySource(input: KeySourceInput): { source: KeySource; reason: string } {
  const { env } = input;
  if (input.keyFile !== undefined && input.passphraseEnv !== undefined)
    throw new LifeboatError('bad-request', 'give --secrets-key-file or --secrets-passphrase-env, not both');
  if (input.keyFile !== undefined)
    return {
      source: { kind: 'key-file', path: resolve(input.keyFile), origin: '--secrets-key-file' },
      reason: 'given with --secrets-key-file',
    };
  if (input.passphraseEnv !== undefined)
    return {
      source: { kind: 'passphrase', variable: input.passphraseEnv },
      reason: `a passphrase from $${input.passphraseEnv} (--secrets-passphrase-env)`,
    };
  if (env[KEY_ENV]) return { source: { kind: 'key-env', variable: KEY_ENV }, reason: `the key in $${KEY_ENV}` };
  if (env[KEY_FILE_ENV])
    return {
      source: { kind: 'key-file', path: resolve(env[KEY_FILE_ENV]), origin: `$${KEY_FILE_ENV}` },
      reason: `the key file named by $${KEY_FILE_ENV}`,
    };
  if (env.CREDENTIALS_DIRECTORY && input.systemdCredentialPresent) {
    return {
      source: { kind: 'key-file', path: join(env.CREDENTIALS_DIRECTORY, SYSTEMD_CREDENTIAL), origin: 'systemd credential' },
      reason: `systemd's credential ${SYSTEMD_CREDENTIAL}`,
    };
  }
  const config = env.XDG_CONFIG_HOME || join(input.userHome, '.config');
  const folder = resolve(env[KEYS_DIR_ENV] || join(config, 'lifeboat-keys'));
  return { source: { kind: 'generated', folder }, reason: `no key configured: a key file Lifeboat keeps in ${folder}` };
}

/** The same decision for this process: its environment and the user's folders. */
export function keySourceFromProcess(
  flags: { keyFile?: string | undefined; passphraseEnv?: string | undefined },
  userHome: string,
  credentialExists: (path: string) => boolean,
): { source: KeySource; reason: string } {
  const credentials = process.env.CREDENTIALS_DIRECTORY;
  return chooseKeySource({
    ...flags,
    env: process.env,
    userHome,
    systemdCredentialPresent: credentials ? credentialExists(join(credentials, SYSTEMD_CREDENTIAL)) : false,
  });
}

/** Whether the key comes from where the operator pointed; a generated key is our own choice. */
export function chosenByOperator(source: KeySource): boolean {
  return source.kind !== 'generated';
}
