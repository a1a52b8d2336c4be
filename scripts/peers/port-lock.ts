// Only one process on the machine can hold NFS's 2049 and the portmapper's 111. Tests that need
// them (a real NFS client such as QEMU's finds MOUNT and NFS through the portmapper) take this
// lock file first, so test files running side by side take turns instead of failing to bind.
import { open, readFile, rm } from 'node:fs/promises';
import { isErrnoCode } from '../../electron/errors.ts';

const LOCK = '/tmp/lifeboat-nfs-2049.lock';
const WAIT_MS = 10 * 60_000;

/** Runs `use` while holding the lock; waits up to ten minutes for another holder. A lock left by
 * a process that is gone (its pid no longer runs) is taken over. */
export async function withNfsPorts<T>(use: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const handle = await open(LOCK, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if (!isErrnoCode(error, 'EEXIST')) throw error;
      if (await holderIsGone()) await rm(LOCK, { force: true });
      else if (Date.now() > deadline) throw new Error(`ports 2049/111 stayed taken for ${WAIT_MS / 60_000} min (${LOCK})`);
      else await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  try {
    return await use();
  } finally {
    await rm(LOCK, { force: true });
  }
}

async function holderIsGone(): Promise<boolean> {
  const pid = Number((await readFile(LOCK, 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}
