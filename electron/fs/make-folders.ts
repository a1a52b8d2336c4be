// Making a folder and its missing parents one at a time. Node's mkdir({ recursive: true }) spins
// forever on some paths of pseudo file systems (under /proc it never returns), and it does not
// say which folders it made, so a failure could not take them back.
import { lstat, mkdir, rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';

const MAX_DEPTH = 256;

/** Makes `path` (absolute) and its missing parents; returns the folders made, outermost first.
 * If one cannot be made, those made are removed again and the error says which failed. */
export async function makeFolders(path: string): Promise<string[]> {
  const missing: string[] = [];
  for (let at = path; ; at = dirname(at)) {
    if (missing.length > MAX_DEPTH) throw new LifeboatError('bad-request', `${path} is too deep`);
    const found = await lstat(at).catch((error: unknown) => {
      if (isErrnoCode(error, 'ENOENT')) return null;
      if (isErrnoCode(error, 'ENOTDIR')) throw new LifeboatError('bad-request', `a parent of ${path} is not a folder`);
      throw new LifeboatError('bad-request', `${at} cannot be looked at: ${(error as Error).message}`);
    });
    if (found || at === dirname(at)) break;
    missing.unshift(at);
  }
  const made: string[] = [];
  try {
    for (const folder of missing) {
      const madeHere = await mkdir(folder).then(
        () => true,
        async (error: unknown) => {
          // Made meanwhile by someone else (parallel restores share parents): fine if a folder.
          if (isErrnoCode(error, 'EEXIST') && (await lstat(folder)).isDirectory()) return false;
          throw error;
        },
      );
      if (madeHere) made.push(folder);
    }
  } catch (error) {
    for (const folder of made.reverse()) await rmdir(folder).catch(() => undefined);
    throw new LifeboatError('bad-request', `${path} cannot be made: ${(error as Error).message}`);
  }
  return made;
}
