// A datastore that is a folder on this machine: the target of a restore when no hypervisor host
// is involved. It prepares an empty VM folder, stages files out of sight, and publishes them
// all at once, so a failed or cancelled restore leaves the folder as it found it.
import { makeFolders } from '../../fs/make-folders.ts';
import { freeBytes } from '../../fs/target-check.ts';
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LifeboatError, isErrnoCode } from '../../errors.ts';
import { syncPath } from '../../fs/durable.ts';

export function stagingFolderName(jobId: string): string {
  return `.lifeboat-restore-${jobId}`;
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

  /** Claims `path` for a restore: it must not exist or be empty; when resuming, it may hold
   * this job's own staging folder and nothing else. */
  static async claim(pathArgument: string, jobId: string, resume = false): Promise<LocalVmFolder> {
    const path = resolve(pathArgument);
    const stagingName = stagingFolderName(jobId);
    let created = false;
    try {
      const entries = await readdir(path);
      const ours = resume && entries.length === 1 && entries[0] === stagingName;
      if (entries.length > 0 && !ours) throw new LifeboatError('target-not-empty', `target folder ${path} is not empty; restore into a new or empty folder`);
      if (ours) {
        const folder = new LocalVmFolder(path, join(path, stagingName));
        folder.createdFolder = true;
        return folder;
      }
    } catch (error) {
      if (!isErrnoCode(error, 'ENOENT')) {
        if (isErrnoCode(error, 'ENOTDIR')) throw new LifeboatError('target-not-empty', `target ${path} is a file, not a folder`);
        throw error;
      }
      await makeFolders(path);
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

  stagedPath(fileName: string): string {
    return join(this.staging, fileName);
  }

  /** Moves every staged file into the VM folder and syncs it. */
  async publish(): Promise<string[]> {
    const names = await readdir(this.staging);
    for (const name of names) {
      await rename(join(this.staging, name), join(this.path, name));
      this.published.push(join(this.path, name));
    }
    await rmdir(this.staging);
    await syncPath(this.path);
    return names.map((name) => join(this.path, name));
  }

  /** Undoes the claim: staged and published files go, and the folder too when this restore made it. */
  async discard(): Promise<void> {
    await rm(this.staging, { recursive: true, force: true });
    for (const path of this.published) await rm(path, { force: true });
    if (this.createdFolder) await rmdir(this.path).catch(() => undefined);
  }
}
