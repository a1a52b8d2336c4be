// Only one process on the machine can hold NFS's 2049 and the portmapper's 111. Tests that need
// them (a real NFS client such as QEMU's finds MOUNT and NFS through the portmapper) take this
// lock first, so test files running side by side take turns instead of failing to bind.
//
// The lock is a listening socket in Linux's abstract Unix namespace, not a file: only one socket
// can be bound to a name, and the kernel unbinds it when its process ends however it ends. So there
// is no stale holder to detect and take over (the race a lock file's takeover always has: two
// waiters that both saw a dead holder, a third that takes the lock between them), and nothing is
// left on disk.
import { createServer, type Server } from 'node:net';
import { isErrnoCode } from '../../electron/errors.ts';

const NFS_PORTS = 'lifeboat-nfs-2049';
const WAIT_MS = 10 * 60_000;
const RETRY_MS = 200;

/** Runs `use` while holding the NFS ports' lock; waits up to ten minutes for another holder. */
export function withNfsPorts<T>(use: () => Promise<T>): Promise<T> {
  return withMachineLock(NFS_PORTS, use);
}

/** Runs `use` while holding the machine-wide lock `name` (see the top of this file). */
export async function withMachineLock<T>(name: string, use: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  let held = await bind(name);
  while (held === null) {
    if (Date.now() > deadline) throw new Error(`the lock ${name} stayed taken for ${WAIT_MS / 60_000} min`);
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    held = await bind(name);
  }
  const lock = held;
  try {
    return await use();
  } finally {
    await new Promise<void>((resolve) => lock.close(() => resolve()));
  }
}

/** The bound socket, or null when another socket holds the name. */
function bind(name: string): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error) => (isErrnoCode(error, 'EADDRINUSE') ? resolve(null) : reject(error)));
    server.listen({ path: `\0${name}` }, () => {
      server.unref(); // holding the lock must not keep the process alive
      resolve(server);
    });
  });
}
