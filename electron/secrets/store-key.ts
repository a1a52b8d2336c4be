// Turns a key source into the 32-byte key that seals the secret store, refusing a source that
// would leak it: a key file inside the home it protects, or one others can read.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, isAbsolute } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { syncPath } from '../fs/durable.ts';
import { derive } from '../repository/chain-key.ts';
import type { KeySource } from './key-source.ts';

const KEY_BYTES = 32;
const MIN_PASSPHRASE = 12;

export type LoadedKey = { key: Buffer; description: string; salt: string | null };

/** 32 raw bytes, or their base64 as text (what a systemd credential or an editor holds). */
export function parseKeyBytes(bytes: Buffer, where: string, rawAllowed = true): Buffer {
  if (rawAllowed && bytes.length === KEY_BYTES) return bytes;
  const text = bytes.toString('latin1').trim();
  const decoded = /^[A-Za-z0-9+/]{43}=$/.test(text) ? Buffer.from(text, 'base64') : null;
  if (decoded?.length === KEY_BYTES) return decoded;
  throw new LifeboatError(
    'bad-request',
    `${where} is not a secrets key: it must hold 32 random bytes or their base64 (e.g. \`openssl rand -base64 32\`)`,
  );
}

async function insideFolder(path: string, folder: string): Promise<boolean> {
  const realFolder = await realpath(folder).catch(() => folder);
  const from = relative(realFolder, await realpath(path));
  return from === '' || (!from.startsWith('..') && !isAbsolute(from));
}

/** A key file the operator gave: outside the home, a regular file, no group or other bits. */
async function readKeyFile(path: string, origin: string, home: string): Promise<Buffer> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT'))
      throw new LifeboatError(
        'not-found',
        `secrets key file ${path} (${origin}) does not exist; make one with \`openssl rand -base64 32 > ${path} && chmod 600 ${path}\``,
      );
    throw new LifeboatError('unavailable', `secrets key file ${path} (${origin}) cannot be read: ${(error as Error).message}`);
  }
  if (!info.isFile()) throw new LifeboatError('bad-request', `secrets key file ${path} (${origin}) is not a regular file`);
  if (await insideFolder(path, home))
    throw new LifeboatError(
      'bad-request',
      `secrets key file ${path} is inside the home ${home}: whoever copies the home would get the key; keep it elsewhere`,
    );
  if ((info.mode & 0o077) !== 0)
    throw new LifeboatError(
      'unauthorized',
      `secrets key file ${path} can be read by others (mode ${(info.mode & 0o777).toString(8)}); \`chmod 600 ${path}\` first`,
    );
  return parseKeyBytes(await readFile(path), `secrets key file ${path}`);
}

/** A new random key, written whole and synced before anything is sealed with it. */
async function makeKeyFile(path: string, folder: string): Promise<Buffer> {
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const key = randomBytes(KEY_BYTES);
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(key);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await syncPath(folder);
  return key;
}

function passphraseIn(variable: string): string {
  const passphrase = process.env[variable];
  if (!passphrase)
    throw new LifeboatError('bad-request', `environment variable ${variable} (--secrets-passphrase-env) is empty or not set`);
  if (passphrase.length < MIN_PASSPHRASE)
    throw new LifeboatError('bad-request', `a secrets passphrase needs at least ${MIN_PASSPHRASE} characters`);
  return passphrase;
}

/** Refuses a source the operator chose that cannot work (a key file in the home, readable by
 * others, missing or not a key; an empty passphrase), before anything is made in the home. */
export async function checkKeySource(source: KeySource, home: string): Promise<void> {
  if (source.kind === 'key-file') await readKeyFile(source.path, source.origin, home);
  if (source.kind === 'key-env') parseKeyBytes(Buffer.from(process.env[source.variable] ?? ''), `$${source.variable}`, false);
  if (source.kind === 'passphrase') passphraseIn(source.variable);
}

export function generatedKeyPath(folder: string, homeId: string): string {
  return join(folder, `${homeId}.key`);
}

/** The key of `source`; null when it is the generated kind, it does not exist yet and `create`
 * is false (a store with no secrets needs no key). `salt` is the passphrase's, kept in the home. */
export async function loadKey(
  source: KeySource,
  context: { home: string; homeId: string; salt: string | null; create: boolean },
): Promise<LoadedKey | null> {
  switch (source.kind) {
    case 'key-file':
      return {
        key: await readKeyFile(source.path, source.origin, context.home),
        description: `key file ${source.path} (${source.origin})`,
        salt: null,
      };
    case 'key-env':
      return {
        key: parseKeyBytes(Buffer.from(process.env[source.variable] ?? ''), `$${source.variable}`, false),
        description: `the key in $${source.variable}`,
        salt: null,
      };
    case 'passphrase': {
      const passphrase = passphraseIn(source.variable);
      const salt = context.salt ?? randomBytes(16).toString('base64');
      return { key: await derive(passphrase, Buffer.from(salt, 'base64')), description: `a passphrase from $${source.variable}`, salt };
    }
    case 'generated': {
      const path = generatedKeyPath(source.folder, context.homeId);
      const description = `key file ${path} (made by Lifeboat)`;
      const made = await stat(path).then(
        () => true,
        (error: unknown) => (isErrnoCode(error, 'ENOENT') ? false : Promise.reject(error)),
      );
      if (made) return { key: await readKeyFile(path, 'made by Lifeboat', context.home), description, salt: null };
      return context.create ? { key: await makeKeyFile(path, source.folder), description, salt: null } : null;
    }
  }
}
