// The engine's files are its operator's alone: everything it makes in a home is 0600/0700
// whatever umask it was started with, by setting the process umask once at engine start (every
// writer, worker thread and child tool included). Restore targets are not the engine's: files
// published there get the modes the operator's own umask gives.
import { chmod, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrnoCode } from '../errors.ts';
import { makeFolders } from './make-folders.ts';

const PRIVATE_UMASK = 0o077;
let operatorUmask: number | null = null;

/** From now on this process makes files 0600 and folders 0700 (umask is per process). */
export function makeNewFilesPrivate(): void {
  const previous = process.umask(PRIVATE_UMASK);
  // The operator's is the last umask that was not ours (a test may change it between engines).
  if (previous !== PRIVATE_UMASK || operatorUmask === null) operatorUmask = previous;
}

function currentUmask(): number {
  const umask = process.umask(0);
  process.umask(umask);
  return umask;
}

/** The mode a new file or folder would get under the umask the operator started us with. */
export function operatorMode(kind: 'file' | 'folder'): number {
  return (kind === 'folder' ? 0o777 : 0o666) & ~(operatorUmask ?? currentUmask());
}

/** Gives a restored file or folder (not a symlink) the operator's ordinary mode. */
export async function giveToOperator(path: string): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) return;
  await chmod(path, operatorMode(info.isDirectory() ? 'folder' : 'file'));
}

/** mkdir -p for a restore target (one folder at a time, see make-folders.ts): the folders it
 * makes get the operator's ordinary mode; returns them, outermost first. */
export async function mkdirForOperator(path: string): Promise<string[]> {
  const made = await makeFolders(path);
  for (const folder of made) await chmod(folder, operatorMode('folder'));
  return made;
}

/** Takes group and other bits off `root` and everything in it (symlinks are not followed; a
 * missing root is nothing to do): files an older Lifeboat made under a looser umask. */
export async function makeTreePrivate(root: string): Promise<number> {
  let fixed = 0;
  const pending = [root];
  while (pending.length > 0) {
    const path = pending.pop() as string;
    let info;
    try {
      info = await lstat(path);
    } catch (error) {
      if (path === root && isErrnoCode(error, 'ENOENT')) return 0;
      throw error;
    }
    if (info.isSymbolicLink()) continue;
    if ((info.mode & 0o077) !== 0) {
      await chmod(path, info.mode & 0o7700);
      fixed++;
    }
    if (info.isDirectory()) for (const name of await readdir(path)) pending.push(join(path, name));
  }
  return fixed;
}
