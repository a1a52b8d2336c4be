// The home folder holds one engine's catalog, repositories and driver state.
import { chmod } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeFolders } from './fs/make-folders.ts';
import { checkOnDisk } from './fs/target-check.ts';

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

/** The home made if missing (0700), never on a pseudo file system: Node's recursive mkdir
 * never returns under /proc, and the engine would hang before it starts. */
export async function prepareHome(home: string): Promise<HomePaths> {
  await checkOnDisk(home, 'the home');
  if ((await makeFolders(resolve(home))).includes(resolve(home))) await chmod(home, 0o700);
  return homePaths(home);
}
