// The home folder holds one engine's catalog, repositories and driver state. The catalog is the
// home's catalog.sqlite, unless catalog.location names a PostgreSQL database instead.
import { existsSync, readFileSync } from 'node:fs';
import { chmod, rename, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeFolders } from './fs/make-folders.ts';
import { replaceFileDurably, syncPath } from './fs/durable.ts';
import { makeNewFilesPrivate, makeTreePrivate } from './fs/private-files.ts';
import { checkOnDisk } from './fs/target-check.ts';
import { describeLocation, isPostgresLocation } from './catalog-location.ts';
import { LifeboatError } from './errors.ts';

export type HomePaths = {
  home: string;
  /** The catalog's SQLite file, or the PostgreSQL URL catalog.location names. */
  catalog: string;
  /** Where the audit log's head is anchored outside the catalog (catalog/audit-anchors.ts). */
  auditAnchors: string;
  repositories: string;
  socket: string;
  lab: string;
  staging: string;
  secrets: string;
};

/** --home wins, then LIFEBOAT_HOME, then the folder Electron would use as userData on Linux. */
export function resolveHome(explicit?: string): string {
  if (explicit) return resolve(explicit);
  if (process.env.LIFEBOAT_HOME) return resolve(process.env.LIFEBOAT_HOME);
  const config = process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config');
  return join(config, 'Lifeboat');
}

/** The home's primary repository: its name, and its folder under <home>/repositories. */
export const DEFAULT_REPOSITORY = 'default';

export function homePaths(home: string): HomePaths {
  return {
    home,
    catalog: catalogLocation(home),
    auditAnchors: join(home, 'audit', 'anchors.log'),
    repositories: join(home, 'repositories'),
    socket: join(home, 'engine.sock'),
    lab: join(home, 'lab'),
    staging: join(home, 'staging'),
    secrets: join(home, 'secrets'),
  };
}

/** What the engine keeps in a home. Only these are made private on open: a home may also hold
 * what is not the engine's (Electron's own files, or whatever an operator keeps there), and a
 * mistaken --home must not have a whole tree's modes changed. */
const ENGINE_ENTRIES = [
  'catalog.location',
  'catalog.move-to',
  'catalog.move-failed',
  'catalog.sqlite',
  'catalog.sqlite-wal',
  'catalog.sqlite-shm',
  'catalog.sqlite-journal',
  'engine.sock',
  'repositories',
  'lab',
  'staging',
  'secrets',
  'tape',
  'audit',
  'arrays',
  'instant',
  'instant-cache',
  'movers',
];

/** Makes the home (0700), never on a pseudo file system (Node's recursive mkdir never returns
 * under /proc, and the engine would hang before it starts), and from here on every file the
 * engine writes private; a home others could enter (made 0777) and the engine's files in it that
 * others could read (written by an older Lifeboat under umask 022) are fixed before anything is
 * read from them. */
export async function prepareHome(home: string): Promise<HomePaths> {
  await checkOnDisk(home, 'the home');
  makeNewFilesPrivate();
  await makeFolders(resolve(home));
  const info = await stat(home);
  if ((info.mode & 0o077) !== 0) await chmod(home, info.mode & 0o7700);
  for (const entry of ENGINE_ENTRIES) await makeTreePrivate(join(home, entry));
  return homePaths(home);
}

const LOCATION_FILE = 'catalog.location';

/** The home's catalog: the PostgreSQL URL in catalog.location, or else its catalog.sqlite. */
export function catalogLocation(home: string): string {
  const file = join(home, LOCATION_FILE);
  if (!existsSync(file)) return join(home, 'catalog.sqlite');
  const location = readFileSync(file, 'utf8').trim();
  if (!isPostgresLocation(location))
    throw new LifeboatError('bad-request', `${file} must hold a postgresql:// URL; it holds something else`);
  return location;
}

/** Puts the home's catalog on PostgreSQL at `url` (catalog.location, 0600: it may hold a
 * password). Refused when the home's catalog is already elsewhere: a home with a SQLite catalog
 * moves it with `lifeboat catalog migrate`, so nothing it knows is left behind. */
export async function useCatalog(home: string, url: string): Promise<void> {
  if (!isPostgresLocation(url)) throw new LifeboatError('bad-request', '--catalog takes a postgresql:// URL'); // never echoed: it may hold a password
  const current = catalogLocation(home);
  if (current === url) return;
  refuseOtherPostgres(current, url);
  if (existsSync(current))
    throw new LifeboatError(
      'conflict',
      `this home already has a catalog (${current}): move it with \`lifeboat catalog migrate --from sqlite:${home} --to <url>\``,
    );
  await makeFolders(resolve(home));
  await replaceFileDurably(join(home, LOCATION_FILE), `${url}\n`);
}

/** A home whose catalog is already another PostgreSQL database is not switched to `url`. */
function refuseOtherPostgres(current: string, url: string): void {
  if (isPostgresLocation(current) && current !== url)
    throw new LifeboatError('conflict', `this home's catalog is ${describeLocation(current)}, not ${describeLocation(url)}`);
}

/** After `lifeboat catalog migrate` has copied and checked the home's SQLite catalog into the
 * PostgreSQL database at `url`: catalog.location names it, and catalog.sqlite (with its -wal and
 * -shm, if any) is set aside as catalog.sqlite.migrated-<time>, kept as the operator's fallback.
 * catalog.location appears by a rename before the SQLite file moves: a crash leaves either the old
 * home or one whose catalog is the URL (a SQLite file left beside it is then only a fallback, and
 * a second call finishes setting it aside). Returns the path the SQLite file was moved to. */
export async function moveCatalogTo(home: string, url: string, now = new Date()): Promise<string> {
  if (!isPostgresLocation(url)) throw new LifeboatError('bad-request', 'the catalog moves to a postgresql:// URL'); // never echoed: it may hold a password
  const current = catalogLocation(home);
  refuseOtherPostgres(current, url);
  const sqlite = join(home, 'catalog.sqlite');
  if (current !== url) await replaceFileDurably(join(home, LOCATION_FILE), `${url}\n`);
  const setAside = `${sqlite}.migrated-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}`;
  // The main file first: SQLite finds a file's log by its name, <file>-wal.
  if (existsSync(sqlite)) await rename(sqlite, setAside);
  for (const suffix of ['-wal', '-shm']) if (existsSync(sqlite + suffix)) await rename(sqlite + suffix, setAside + suffix);
  await syncPath(home);
  return setAside;
}
