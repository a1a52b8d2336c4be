// The home folder holds one engine's catalog, repositories and driver state.
import { chmod, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeFolders } from './fs/make-folders.ts';
import { makeNewFilesPrivate, makeTreePrivate } from './fs/private-files.ts';
import { checkOnDisk } from './fs/target-check.ts';

export type HomePaths = {
  home: string;
  catalog: string;
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
    catalog: join(home, 'catalog.sqlite'),
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
