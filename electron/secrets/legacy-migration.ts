// Moving a home's secrets off the key that used to sit beside them (<home>/secrets/key): every
// secret is re-sealed under the new key, then the old key is overwritten and unlinked. A crash
// at any point loses nothing: before the commit (one folder rename) the old layout is whole;
// after it, the next start finishes the moves from the committed folder.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrnoCode } from '../errors.ts';
import { syncPath, writeFileDurably } from '../fs/durable.ts';
import type { Sealer } from './sealer.ts';

export const LEGACY_KEY = 'key';
export const STORE_INFO = 'store.json';
const STAGING = 'rewrap.partial';
const COMMITTED = 'rewrap.done';

/** Where a test stops the migration, as a kill would. */
export type CrashPoint = (point: 'sealed-one' | 'staged' | 'committed' | 'moved-one' | 'info-moved') => void;

async function listOrEmpty(folder: string): Promise<string[]> {
  try {
    return await readdir(folder);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return [];
    throw error;
  }
}

export async function readLegacyKey(folder: string): Promise<Buffer | null> {
  try {
    return await readFile(join(folder, LEGACY_KEY));
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return null;
    throw error;
  }
}

/** Overwrites a file with random bytes, syncs, then unlinks it. On copy-on-write or flash
 * storage old blocks may survive the overwrite (docs/security.md says so). */
export async function shred(path: string): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'r+');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    await handle.write(randomBytes(Math.max(size, 1)), 0, Math.max(size, 1), 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rm(path, { force: true });
}

/** Finishes or forgets a migration a crash stopped; removes the old key once the new store is in place. */
export async function recoverMigration(folder: string, crashAt?: CrashPoint): Promise<void> {
  await rm(join(folder, STAGING), { recursive: true, force: true });
  const committed = join(folder, COMMITTED);
  const names = await listOrEmpty(committed);
  // Secrets first, the store's info last: its presence says every secret is re-sealed.
  for (const name of names.filter((entry) => entry !== STORE_INFO)) {
    await rename(join(committed, name), join(folder, name));
    crashAt?.('moved-one');
  }
  if (names.includes(STORE_INFO)) {
    await rename(join(committed, STORE_INFO), join(folder, STORE_INFO));
    await syncPath(folder);
    crashAt?.('info-moved');
  }
  await rm(committed, { recursive: true, force: true });
  if ((await listOrEmpty(folder)).includes(STORE_INFO)) {
    await shred(join(folder, LEGACY_KEY));
    await syncPath(folder);
  }
}

/** Re-seals every `<id>.secret` of `folder` from `oldSealer` to `newSealer`, with `info` (the new
 * store's description, as JSON) committed alongside. A secret the old key cannot open is
 * carried over as it is: it was unreadable before and stays so, and nothing else is held up. */
export async function migrateLegacyStore(
  folder: string,
  oldSealer: Sealer,
  newSealer: Sealer,
  info: string,
  crashAt?: CrashPoint,
): Promise<number> {
  const staging = join(folder, STAGING);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { mode: 0o700 });
  let resealed = 0;
  for (const name of (await readdir(folder)).filter((entry) => entry.endsWith('.secret'))) {
    const sealed = await readFile(join(folder, name));
    let plain: string | null = null;
    try {
      plain = oldSealer.open(sealed);
    } catch {
      plain = null;
    }
    await writeFileDurably(join(staging, name), plain === null ? sealed : newSealer.seal(plain));
    if (plain !== null) resealed++;
    crashAt?.('sealed-one');
  }
  await writeFileDurably(join(staging, STORE_INFO), info);
  await syncPath(staging);
  crashAt?.('staged');
  await rename(staging, join(folder, COMMITTED));
  await syncPath(folder);
  crashAt?.('committed');
  await recoverMigration(folder, crashAt);
  return resealed;
}
