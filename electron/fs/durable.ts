// Writes that survive a crash: data reaches stable storage before anything depends on it.
import { randomUUID } from 'node:crypto';
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function writeFileDurably(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync of a file or a folder (a folder's sync makes renames and new entries durable). */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `path` whole or not at all: after a crash it holds the old bytes or the new ones. */
export async function replaceFileDurably(path: string, data: string | Uint8Array): Promise<void> {
  const partial = `${path}.${randomUUID()}.partial`;
  await writeFileDurably(partial, data);
  await rename(partial, path);
  await syncPath(dirname(path));
}
