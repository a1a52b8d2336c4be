// The home folder holds one engine's catalog, repositories and driver state.
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeNewFilesPrivate, makeTreePrivate } from './fs/private-files.ts';

export type HomePaths = { home: string; catalog: string; repositories: string; socket: string; lab: string; staging: string; secrets: string };

/** --home wins, then LIFEBOAT_HOME, then the folder Electron would use as userData on Linux. */
export function resolveHome(explicit?: string): string {
  if (explicit) return resolve(explicit);
  if (process.env.LIFEBOAT_HOME) return resolve(process.env.LIFEBOAT_HOME);
  const config = process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config');
  return join(config, 'Lifeboat');
}

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

/** Makes the home (0700) and, from here on, every file the engine writes private; a home or
 * files in it that others could read (made 0777, or by an older Lifeboat under umask 022) are
 * fixed before anything is read from them. */
export async function prepareHome(home: string): Promise<HomePaths> {
  makeNewFilesPrivate();
  await mkdir(home, { recursive: true, mode: 0o700 });
  await makeTreePrivate(home);
  return homePaths(home);
}
