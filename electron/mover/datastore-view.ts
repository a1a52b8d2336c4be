// A mover's view of a datastore: a folder on this host, and nothing outside it. A task's path is
// relative ('..', absolute and empty parts are refused by the protocol already); every folder on
// the way is resolved (a link inside the view is followed only while it stays inside), the final
// name is opened O_NOFOLLOW (a link there is refused, not written through), and after the open
// the folder must still be where it was (Node has no openat: a swap meanwhile is caught).
import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import { syncPath } from '../fs/durable.ts';
import { isWithin } from '../fs/target-check.ts';
import { DatastorePath } from '../movers/protocol.ts';

/** O_NONBLOCK: opening a FIFO planted at the path fails at once instead of hanging the mover. */
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const REWRITE_FLAGS = constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Each NAME=PATH given at start: an existing folder, by its real path. */
export async function checkDatastoreViews(given: Record<string, string>): Promise<Record<string, string>> {
  const views: Record<string, string> = {};
  for (const [name, path] of Object.entries(given)) {
    const found = await stat(path).catch(() => null);
    if (!found?.isDirectory())
      throw new LifeboatError('bad-request', `--datastore ${name}=${path}: ${found ? 'not a folder' : 'no such folder'}`);
    views[name] = await realpath(path);
  }
  return views;
}

export type TargetRequest = { datastore: string; path: string; create: boolean; capacity: number };

export class DatastoreView {
  readonly name: string;
  readonly root: string;
  constructor(name: string, root: string) {
    this.name = name;
    this.root = root;
  }

  private escape(path: string, why: string): LifeboatError {
    return new LifeboatError(
      'bad-request',
      `[${this.name}] ${path}: ${why}; the mover writes only inside its view of the datastore (${this.root})`,
    );
  }

  /** The real folder `parts` name under the root, made where missing when `make`. */
  private async folder(parts: string[], path: string, make: boolean): Promise<string> {
    let at = this.root;
    for (const part of parts) {
      const next = join(at, part);
      const real = await realpath(next).catch(async (error: unknown) => {
        if (!isErrnoCode(error, 'ENOENT')) throw error;
        if ((await lstat(next).catch(() => null))?.isSymbolicLink()) throw this.escape(path, `${part} is a link to nowhere`);
        if (!make) throw new LifeboatError('not-found', `[${this.name}] ${path}: the folder ${part} does not exist`);
        // `at` is real and inside the view, so the folder made is too.
        await mkdir(next).catch((made: unknown) => {
          if (!isErrnoCode(made, 'EEXIST')) throw made;
        });
        return realpath(next);
      });
      if (!isWithin(real, this.root)) throw this.escape(path, `${part} leads outside the view`);
      if (!(await stat(real)).isDirectory()) throw new LifeboatError('conflict', `[${this.name}] ${path}: ${part} is not a folder`);
      at = real;
    }
    return at;
  }

  /** The disk file of a task, open for writing: made (sparse, at capacity) or the existing file of exactly that size. */
  async openTarget(request: TargetRequest): Promise<FileHandle> {
    const { path, create, capacity } = request;
    if (!DatastorePath.safeParse(path).success) throw this.escape(path, 'not a relative path inside the datastore');
    const parts = path.split('/');
    const name = parts.pop() as string;
    const folder = await this.folder(parts, path, create);
    const file = join(folder, name);
    const existing = await lstat(file).catch((error: unknown) => (isErrnoCode(error, 'ENOENT') ? null : Promise.reject(error)));
    if (existing?.isSymbolicLink()) throw this.escape(path, 'it is a symbolic link');
    if (existing && !existing.isFile()) throw new LifeboatError('conflict', `[${this.name}] ${path} is not a regular file`);
    if (!existing && !create) throw new LifeboatError('not-found', `[${this.name}] ${path} does not exist`);
    // A placeholder is replaced, not truncated: a hard link to a file elsewhere is never written through.
    if (existing && create) await unlink(file);
    const handle = await open(file, create ? CREATE_FLAGS : REWRITE_FLAGS, 0o666).catch((error: unknown) => {
      if (isErrnoCode(error, 'ELOOP')) throw this.escape(path, 'it became a symbolic link');
      throw new LifeboatError('conflict', `[${this.name}] ${path} cannot be opened: ${(error as Error).message}`);
    });
    try {
      await this.checkOpened(handle, folder, file, request);
      if (create) {
        await handle.truncate(capacity);
        // The new file's name is in the folder for good before any checkpoint says its blocks are.
        await syncPath(folder);
      }
      return handle;
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  private async checkOpened(handle: FileHandle, folder: string, file: string, { path, create, capacity }: TargetRequest): Promise<void> {
    const opened = await handle.stat();
    const named = await lstat(file).catch(() => null);
    if ((await realpath(folder).catch(() => null)) !== folder || named?.ino !== opened.ino || named.dev !== opened.dev)
      throw this.escape(path, 'its folder was swapped while it was opened');
    if (!opened.isFile()) throw new LifeboatError('conflict', `[${this.name}] ${path} is not a regular file`);
    if (!create && opened.nlink !== 1)
      throw this.escape(path, `it has ${opened.nlink} hard links; a file that may also be elsewhere is not written through`);
    if (!create && opened.size !== capacity)
      throw new LifeboatError('conflict', `[${this.name}] ${path} holds ${opened.size} bytes, not the disk's ${capacity}`);
  }
}
