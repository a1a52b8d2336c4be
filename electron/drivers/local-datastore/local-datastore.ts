// A datastore that is a folder on this machine: the target of a restore when no hypervisor host
// is involved. It prepares an empty VM folder, stages files out of sight, and publishes them
// all at once, so a failed or cancelled restore leaves the folder as it found it. What it
// publishes is the operator's, with their umask's modes (the engine's own files are private).
import { freeBytes } from '../../fs/target-check.ts';
import { access, constants, mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { LifeboatError, isErrnoCode } from '../../errors.ts';
import { syncPath } from '../../fs/durable.ts';
import { giveToOperator, mkdirForOperator } from '../../fs/private-files.ts';
import { killPoint } from '../../kill-point.ts';

/** What a resumed restore finds of its earlier run: the files it had already published. */
export type Resuming = { published: readonly string[] };

export function stagingFolderName(jobId: string): string {
  return `.lifeboat-restore-${jobId}`;
}

/** A target folder's entries, or null when it does not exist yet; a file in its place is refused. */
async function entriesOf(path: string): Promise<string[] | null> {
  try {
    return await readdir(path);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return null;
    if (isErrnoCode(error, 'ENOTDIR')) throw new LifeboatError('target-not-empty', `target ${path} is a file, not a folder`);
    throw error;
  }
}

/** What a new restore's claim needs, checked without touching anything (restore.check runs it
 * too): the folder is absent or empty, and it (or the nearest folder that exists above it) is
 * writable. */
export async function checkClaimable(pathArgument: string): Promise<void> {
  const path = resolve(pathArgument);
  const entries = await entriesOf(path);
  if (entries !== null && entries.length > 0)
    throw new LifeboatError('target-not-empty', `target folder ${path} is not empty; restore into a new or empty folder`);
  let existing = path;
  while (existing !== dirname(existing) && (await entriesOf(existing).catch(() => [])) === null) existing = dirname(existing);
  await access(existing, constants.W_OK).catch((error: unknown) => {
    throw new LifeboatError('forbidden', `target folder ${existing} is not writable: ${(error as Error).message}`);
  });
}

export class LocalVmFolder {
  private createdFolder = false;
  private published: string[] = [];
  readonly path: string;
  readonly staging: string;

  private constructor(path: string, staging: string) {
    this.path = path;
    this.staging = staging;
  }

  /** Claims `path` for a restore: it must not exist or be empty. A resumed restore (`resuming`)
   * takes it back wherever the earlier run stopped: it may hold this job's own staging folder
   * and the files that run had published, and nothing else. */
  static async claim(pathArgument: string, jobId: string, resuming: Resuming | null = null): Promise<LocalVmFolder> {
    const path = resolve(pathArgument);
    const stagingName = stagingFolderName(jobId);
    let created = false;
    if (!resuming) await checkClaimable(path);
    const entries = await entriesOf(path);
    if (entries !== null) {
      const published = new Set(
        (resuming?.published ?? []).filter((file) => dirname(resolve(file)) === path).map((file) => basename(file)),
      );
      const ours = resuming !== null && entries.every((entry) => entry === stagingName || published.has(entry));
      if (entries.length > 0 && !ours)
        throw new LifeboatError('target-not-empty', `target folder ${path} is not empty; restore into a new or empty folder`);
      if (resuming) {
        // The earlier run of this job made or emptied-and-claimed the folder: it goes with a discard.
        const folder = new LocalVmFolder(path, join(path, stagingName));
        folder.createdFolder = true;
        folder.published = entries.filter((entry) => published.has(entry)).map((entry) => join(path, entry));
        await mkdir(folder.staging, { recursive: true });
        return folder;
      }
    } else {
      await mkdirForOperator(path);
      created = true;
    }
    const folder = new LocalVmFolder(path, join(path, stagingName));
    folder.createdFolder = created;
    await mkdir(folder.staging);
    return folder;
  }

  async freeBytes(): Promise<number> {
    return freeBytes(this.path);
  }

  /** Was this file moved here by this restore (in this run or, resumed, in an earlier one)? */
  hasPublished(path: string): boolean {
    return this.published.includes(path);
  }

  stagedPath(fileName: string): string {
    return join(this.staging, fileName);
  }

  /** Syncs every staged file, moves it into the VM folder and syncs that; returns every file published,
   * including those an earlier run of a resumed restore had moved. `record` notes each file
   * before it moves, so a restore that dies half-published is undone or resumed in full. */
  async publish(record: (path: string) => void = () => undefined): Promise<string[]> {
    const names = await readdir(this.staging);
    for (const name of names) {
      const published = join(this.path, name);
      // The operator's modes before the move, so a kill after it leaves no private file behind.
      await giveToOperator(join(this.staging, name));
      await syncPath(join(this.staging, name));
      record(published);
      await rename(join(this.staging, name), published);
      if (!this.published.includes(published)) this.published.push(published);
      killPoint('publish-rename');
    }
    await rmdir(this.staging);
    await syncPath(this.path);
    return [...this.published];
  }

  /** Undoes the claim: staged and published files go, and the folder too when this restore made it. */
  async discard(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
    for (const path of this.published) await rm(path, { force: true });
    if (this.createdFolder) await rmdir(this.path).catch(() => undefined);
  }
}
