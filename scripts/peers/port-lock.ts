// Only one process on the machine can hold NFS's 2049 and the portmapper's 111. Tests that need
// them (a real NFS client such as QEMU's finds MOUNT and NFS through the portmapper) take this
// lock file first, so test files running side by side take turns instead of failing to bind.
//
// The lock file holds the holder's pid. A lock whose pid no longer runs is taken over by renaming
// it to a name only this waiter uses: the rename succeeds for one waiter only, and the renamer
// checks that what it moved is the dead holder's lock (not one a faster waiter just made) before
// it retries the exclusive create. Two waiters that both saw the dead holder cannot both proceed.
import { randomUUID } from 'node:crypto';
import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { isErrnoCode } from '../../electron/errors.ts';

const LOCK = '/tmp/lifeboat-nfs-2049.lock';
const WAIT_MS = 10 * 60_000;

/** Runs `use` while holding the lock; waits up to ten minutes for another holder. A lock left by
 * a process that is gone (its pid no longer runs) is taken over. */
export function withNfsPorts<T>(use: () => Promise<T>): Promise<T> {
  return withLockFile(LOCK, use);
}

/** Runs `use` while holding the lock file `lock` (see the top of this file). */
export async function withLockFile<T>(lock: string, use: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  const mine = String(process.pid);
  for (;;) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(mine);
      await handle.close();
      break;
    } catch (error) {
      if (!isErrnoCode(error, 'EEXIST')) throw error;
      const holder = await pidIn(lock);
      if (holder !== null && !isRunning(holder)) await removeStale(lock, holder);
      else if (Date.now() > deadline) throw new Error(`${lock} stayed taken for ${WAIT_MS / 60_000} min`);
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await use();
  } finally {
    // Ours unless it was taken over (only possible had this process looked dead).
    if ((await pidIn(lock)) === process.pid) await rm(lock, { force: true });
  }
}

/** The pid in a lock file; null when there is none yet (being written) or no file. */
async function pidIn(path: string): Promise<number | null> {
  const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

/** EPERM: the pid runs, as another user's process. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrnoCode(error, 'EPERM');
  }
}

/** Moves the dead `holder`'s lock aside; a lock moved by mistake (a new holder's, made after the
 * pid was read) is put back where it was, without replacing one made since (a third waiter
 * could take the lock in that instant: rare, and no worse than the lock file's absence). */
async function removeStale(lock: string, holder: number): Promise<void> {
  const aside = `${lock}.stale-${process.pid}-${randomUUID()}`;
  try {
    await rename(lock, aside);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return; // another waiter moved it first
    throw error;
  }
  // Not the dead holder's pid (another's, or none written yet): a new holder's lock, put back.
  if ((await pidIn(aside)) !== holder)
    await link(aside, lock).catch((error: unknown) => {
      if (!isErrnoCode(error, 'EEXIST')) throw error;
    });
  await rm(aside, { force: true });
}
