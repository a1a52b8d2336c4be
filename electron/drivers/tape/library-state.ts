// The virtual library's state file and its lock. Every change is read-modify-write under an
// exclusive lock file and published by rename, so two processes sharing a library never lose a
// move, and a crash leaves the last complete state. A lock whose owner died is taken over.
import { open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { LifeboatError, isErrnoCode } from '../../errors.ts';
import { writeFileDurably } from '../../fs/durable.ts';
import { sleep } from './virtual-drive.ts';

const LOCK_ATTEMPTS = 2000;
const LOCK_RETRY_MS = 5;

export const DriveModelSchema = z.object({
  name: z.string(),
  loadSeconds: z.number().nonnegative(),
  unloadSeconds: z.number().nonnegative(),
  fullRewindSeconds: z.number().nonnegative(),
  backhitchSeconds: z.number().nonnegative(),
  bytesPerSecond: z.number().positive(),
  minBytesPerSecond: z.number().positive(),
  bufferBytes: z.number().int().positive(),
});

const Owner = z.object({ pid: z.number().int(), who: z.string() });

export const LibraryStateSchema = z.object({
  format: z.literal('lifeboat-virtual-library'),
  version: z.literal(1),
  name: z.string(),
  blockSize: z.number().int().positive(),
  timeScale: z.number().positive(),
  model: DriveModelSchema,
  slots: z.array(z.string().nullable()),
  drives: z.array(z.object({ barcode: z.string().nullable(), homeSlot: z.number().int().nullable(), owner: Owner.nullable() })),
  mailslots: z.array(z.string().nullable()),
  cartridges: z.record(z.string(), z.object({ writeProtected: z.boolean(), capacityBytes: z.number().int().positive() })),
  /** Faults the library shows (set for tests and drills): drives reported busy, cartridges the
   * robot mistakes for others (a misread barcode puts another tape in the drive). */
  faults: z.object({ busyDrives: z.array(z.number().int()), swapped: z.record(z.string(), z.string()) }),
});
export type LibraryState = z.infer<typeof LibraryStateSchema>;

/** LTO-9 full height: 400 MB/s native, speed matching down to 177 MB/s, 1 GB buffer. */
export const LTO9: z.infer<typeof DriveModelSchema> = {
  name: 'LTO-9',
  loadSeconds: 17,
  unloadSeconds: 22,
  fullRewindSeconds: 98,
  backhitchSeconds: 3,
  bytesPerSecond: 400e6,
  minBytesPerSecond: 177e6,
  bufferBytes: 1024 * 1024 * 1024,
};

export function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrnoCode(error, 'EPERM');
  }
}

export class LibraryStateFile {
  readonly folder: string;

  constructor(folder: string) {
    this.folder = folder;
  }

  get statePath(): string {
    return join(this.folder, 'library.json');
  }

  private get lockPath(): string {
    return join(this.folder, 'library.lock');
  }

  async read(): Promise<LibraryState> {
    let text: string;
    try {
      text = await readFile(this.statePath, 'utf8');
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT'))
        throw new LifeboatError('not-found', 'no tape library here; `lifeboat tape library create` makes one');
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
    const parsed = LibraryStateSchema.safeParse(json);
    if (!parsed.success)
      throw new LifeboatError('corrupt-backup', `${this.statePath} is damaged: ${parsed.error.issues[0]?.message ?? 'unreadable'}`);
    return parsed.data;
  }

  async write(state: LibraryState): Promise<void> {
    const temporary = `${this.statePath}.${process.pid}.tmp`;
    await writeFileDurably(temporary, JSON.stringify(state, null, 2));
    await rename(temporary, this.statePath);
  }

  /** Runs `change` on the current state under the lock and saves what it leaves. */
  async update<T>(change: (state: LibraryState) => T): Promise<T> {
    await this.lock();
    try {
      const state = await this.read();
      const result = change(state);
      await this.write(state);
      return result;
    } finally {
      await rm(this.lockPath, { force: true });
    }
  }

  private async lock(): Promise<void> {
    for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
      try {
        const handle = await open(this.lockPath, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return;
      } catch (error) {
        if (!isErrnoCode(error, 'EEXIST')) throw error;
      }
      const holder = Number(await readFile(this.lockPath, 'utf8').catch(() => ''));
      // An empty lock file is one being written this instant; only a dead holder is taken over.
      if (Number.isInteger(holder) && holder > 0 && !isAlive(holder)) await rm(this.lockPath, { force: true });
      else await sleep(LOCK_RETRY_MS);
    }
    throw new LifeboatError('unavailable', `the tape library at ${this.folder} stays locked by another process`);
  }
}
