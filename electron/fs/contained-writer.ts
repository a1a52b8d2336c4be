// Writing a tree that comes from outside (a guest's files) into one folder, and nowhere else.
// Every path it writes is the root joined with names it placed itself (escaped guest names), so
// no '..' or '/' reaches the file system; no existing symbolic link is ever followed or written
// through: files are opened O_CREAT|O_EXCL|O_NOFOLLOW, folders made with mkdir and opened
// O_DIRECTORY|O_NOFOLLOW, and after each open the path must still name what was opened under a
// parent whose real path is the expected one (Node has no openat). Symbolic links are made last,
// when nothing is written any more. Folder modes and times are set at the end, deepest first.
import { constants } from 'node:fs';
import { chmod, link, lstat, lutimes, mkdir, open, realpath, rmdir, symlink, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import type { FileRegion } from '../filesystems/file-system.ts';
import { isWithin } from './target-check.ts';
import { operatorMode } from './private-files.ts';

export type ClashPolicy = 'overwrite' | 'keep-both' | 'skip';

export type ContainedWriterOptions = {
  onClash: ClashPolicy;
  /** setuid, setgid and sticky bits are dropped unless the operator asks to keep them. */
  keepSpecialBits: boolean;
  /** Folders never written into or replaced, even when they are under the root (the engine's home, repositories). */
  protectedPaths: string[];
};

const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
const FOLDER_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const ZERO_SPAN = 64 * 1024;
const ZEROS = new Uint8Array(ZERO_SPAN);
const MAX_RENAMES = 1000;

const swapped = (path: string): LifeboatError =>
  new LifeboatError('conflict', `${path}: a folder above it was swapped for a link while the restore ran; the restore stops`);

export class ContainedWriter {
  readonly root: string;
  private readonly options: ContainedWriterOptions;
  /** Paths this writer has placed: a second guest entry of the same name gets another one. */
  private readonly placed = new Set<string>();
  private readonly folders: { path: string; mode: number; mtime: Date | null }[] = [];
  private readonly links: { path: string; target: string; mtime: Date | null }[] = [];
  /** What this writer made, in order: taken back when the restore fails or is cancelled. */
  private readonly made: { path: string; ino: number; dev: number }[] = [];
  /** The files it wrote, by path: what a later name of the same file may be linked to. */
  private readonly files = new Map<string, { ino: number; dev: number }>();

  /** The operator's ordinary modes, read once (asking for the umask is a system call each time). */
  private readonly operatorFile = operatorMode('file');
  private readonly operatorFolder = operatorMode('folder');

  private constructor(root: string, options: ContainedWriterOptions) {
    this.root = root;
    this.options = options;
  }

  /** A writer into `root`, made if missing (its parent must exist); the root must be a real folder, not a link. */
  static async open(root: string, options: ContainedWriterOptions): Promise<ContainedWriter> {
    const made = await mkdir(root).then(
      () => true,
      (error: unknown) => {
        if (!isErrnoCode(error, 'EEXIST')) throw new LifeboatError('bad-request', `${root} cannot be made: ${(error as Error).message}`);
        return false;
      },
    );
    const found = await lstat(root);
    if (!found.isDirectory()) throw new LifeboatError('bad-request', `${root} is not a folder (a symbolic link or a file is not followed)`);
    const real = await realpath(root);
    if (real !== root) throw new LifeboatError('bad-request', `${root} is reached through a symbolic link (${real}); name the real folder`);
    const writer = new ContainedWriter(root, options);
    if (made) {
      writer.made.push({ path: root, ino: found.ino, dev: found.dev });
      await chmod(root, operatorMode('folder')); // the operator's folder, not the engine's private one
    }
    return writer;
  }

  private mode(mode: number | null, fallback: number): number {
    return (mode ?? fallback) & (this.options.keepSpecialBits ? 0o7777 : 0o777);
  }

  private isProtected(path: string): boolean {
    return this.options.protectedPaths.some((guarded) => isWithin(path, guarded) || isWithin(guarded, path));
  }

  /** Where an entry named `name` (already escaped) goes under `parent` (a placed folder, or
   * null for the root), following the clash policy; null: skip it and what is under it. `note`
   * says why a name differs. Nothing outside the root is looked at, and nothing is removed but
   * a file or a link (never followed) that the overwrite policy replaces. */
  async place(parent: string | null, name: string, isFolder: boolean): Promise<{ path: string; note: string | null } | null> {
    const base = join(parent ?? this.root, name);
    if (dirname(base) !== (parent ?? this.root) || !isWithin(base, this.root) || base === this.root)
      throw new LifeboatError('internal', `${name} is not one plain name`);
    if (this.placed.has(base)) return this.renamed(base, 'duplicate', 'the guest holds another entry of that name here');
    const existing = await lstat(base).catch((error: unknown) => {
      if (isErrnoCode(error, 'ENOENT')) return null;
      throw error;
    });
    if (this.isProtected(base))
      return this.renamed(base, 'restored', `${base} holds the engine's home or a repository; never written into`);
    if (!existing) return this.claim(base, null);
    if (this.options.onClash === 'skip') return null;
    if (this.options.onClash === 'overwrite') {
      if (existing.isDirectory() && isFolder) return this.claim(base, null); // merged: its own entries follow the policy one by one
      if (!existing.isDirectory()) {
        await unlink(base); // a file or a link itself, never what a link points at
        return this.claim(base, null);
      }
      return this.renamed(base, 'restored', 'a folder is there; a folder is never removed to make room');
    }
    return this.renamed(base, 'restored', null);
  }

  private claim(path: string, note: string | null): { path: string; note: string | null } {
    this.placed.add(path);
    return { path, note };
  }

  private async renamed(base: string, word: string, why: string | null): Promise<{ path: string; note: string | null }> {
    for (let n = 1; n <= MAX_RENAMES; n++) {
      const candidate = n === 1 ? `${base} (${word})` : `${base} (${word} ${n})`;
      if (this.placed.has(candidate) || this.isProtected(candidate)) continue;
      const taken = await lstat(candidate).then(
        () => true,
        (error: unknown) => {
          if (isErrnoCode(error, 'ENOENT')) return false;
          throw error;
        },
      );
      if (!taken) return this.claim(candidate, why ? `${why}: written as ${candidate}` : null);
    }
    throw new LifeboatError('conflict', `${base}: too many earlier copies`);
  }

  private madeNow(made: { ino: number; dev: number }, path: string): void {
    this.made.push({ path, ino: made.ino, dev: made.dev });
  }

  /** Before making anything: its parent is still the real folder it was placed as. */
  private async checkParent(path: string): Promise<void> {
    if ((await realpath(dirname(path))) !== dirname(path)) throw swapped(path);
  }

  /** After an open: the path still names the opened object, under the parent expected. If not,
   * what was just made (`ours`: created here, O_EXCL or a fresh mkdir) is taken back wherever
   * the swapped link led, and the restore stops. */
  private async verify(handle: FileHandle, path: string, ours: boolean): Promise<{ ino: number; dev: number }> {
    const [opened, named, parent] = await Promise.all([
      handle.stat(),
      lstat(path).catch(() => null),
      realpath(dirname(path)).catch(() => null),
    ]);
    if (named && opened.ino === named.ino && opened.dev === named.dev && parent === dirname(path)) return opened;
    if (ours && named && opened.ino === named.ino && opened.dev === named.dev)
      await (opened.isDirectory() ? rmdir(path) : unlink(path)).catch(() => undefined);
    throw swapped(path);
  }

  async directory(path: string, mtime: Date | null, mode: number | null): Promise<void> {
    await this.checkParent(path);
    const ours = await mkdir(path, 0o700).then(
      () => true,
      (error: unknown) => {
        if (!isErrnoCode(error, 'EEXIST')) throw error;
        return false; // an existing folder merged under overwrite
      },
    );
    const handle = await open(path, FOLDER_FLAGS);
    try {
      const opened = await this.verify(handle, path, ours);
      if (ours) this.madeNow(opened, path);
      await handle.chmod(0o700 | this.mode(mode, this.operatorFolder)); // writable until the end, when its own mode is set
    } finally {
      await handle.close();
    }
    this.folders.push({ path, mode: this.mode(mode, this.operatorFolder), mtime });
  }

  /** Bytes written where they are not zero; holes and zero runs are left unwritten, and the
   * file is cut to its size, so a sparse file stays sparse. */
  async file(path: string, size: number, mtime: Date | null, mode: number | null, regions: AsyncIterable<FileRegion>): Promise<void> {
    await this.checkParent(path);
    const handle = await open(path, FILE_FLAGS, 0o600);
    try {
      const opened = await this.verify(handle, path, true);
      this.madeNow(opened, path);
      this.files.set(path, { ino: opened.ino, dev: opened.dev });
      let position = 0;
      let written = 0; // the end of the last bytes written
      for await (const region of regions) {
        if (!(region instanceof Uint8Array)) {
          position += region.hole;
          continue;
        }
        for (let at = 0; at < region.length; at += ZERO_SPAN) {
          const span = region.subarray(at, Math.min(at + ZERO_SPAN, region.length));
          if (!Buffer.from(span.buffer, span.byteOffset, span.length).equals(ZEROS.subarray(0, span.length))) {
            await handle.write(span, 0, span.length, position + at);
            written = position + at + span.length;
          }
        }
        position += region.length;
      }
      if (position !== size) throw new LifeboatError('corrupt-disk', `${path}: read ${position} bytes, its size is ${size}`);
      if (written !== size) await handle.truncate(size); // a trailing hole or zero run: cut, not written
      await handle.chmod(this.mode(mode, this.operatorFile));
      if (mtime) await handle.utimes(mtime, mtime);
    } finally {
      await handle.close();
    }
  }

  /** Removes a file this writer was making whose source could not be read to its end, so no half
   * of it stays; only that very file (its inode), under its own real parent. */
  async abandon(path: string): Promise<void> {
    const wrote = this.files.get(path);
    if (!wrote) return;
    this.files.delete(path);
    const [found, parent] = await Promise.all([lstat(path).catch(() => null), realpath(dirname(path)).catch(() => null)]);
    if (found && found.ino === wrote.ino && found.dev === wrote.dev && parent === dirname(path)) await unlink(path);
    const made = this.made.findIndex((entry) => entry.path === path);
    if (made >= 0) this.made.splice(made, 1);
  }

  /** Another name (placed, like any) of a file this writer already wrote: a hard link to it, as
   * in the guest. `existing` must still be that very file (its inode) under its own real parent,
   * and afterwards `path` must name it under the parent expected, or the restore stops as for a
   * file. False when this target cannot link there (another file system, no links): the caller
   * writes the bytes again. */
  async link(path: string, existing: string): Promise<boolean> {
    const wrote = this.files.get(existing);
    if (!wrote) throw new LifeboatError('internal', `${existing} was not written by this restore`);
    await this.checkParent(path);
    await this.checkParent(existing);
    const found = await lstat(existing);
    if (!found.isFile() || found.ino !== wrote.ino || found.dev !== wrote.dev)
      throw new LifeboatError('conflict', `${existing}: the file this restore wrote was replaced while it ran; the restore stops`);
    const linked = await link(existing, path).then(
      () => true,
      (error: unknown) => {
        if (isErrnoCode(error, 'EXDEV') || isErrnoCode(error, 'EPERM') || isErrnoCode(error, 'EMLINK') || isErrnoCode(error, 'ENOTSUP'))
          return false;
        throw error;
      },
    );
    if (!linked) return false;
    const [named, parent] = await Promise.all([lstat(path).catch(() => null), realpath(dirname(path)).catch(() => null)]);
    if (!named || named.ino !== wrote.ino || named.dev !== wrote.dev || parent !== dirname(path)) {
      // The name link() just made goes, whichever file it reaches: under a real parent it is ours
      // (link() makes a new name or fails), and a swapped first file may be one outside the target.
      if (named && (parent === dirname(path) || (named.ino === wrote.ino && named.dev === wrote.dev)))
        await unlink(path).catch(() => undefined);
      throw swapped(path);
    }
    this.madeNow(named, path);
    return true;
  }

  /** Made at the end, when nothing is written any more, so nothing is ever written through it. */
  symlink(path: string, target: string, mtime: Date | null): void {
    this.links.push({ path, target, mtime });
  }

  /** Removes what this writer made, deepest first; folders it merged into stay, and a file an
   * overwrite replaced is not brought back. */
  async discard(): Promise<void> {
    for (const { path, ino, dev } of this.made.reverse()) {
      const found = await lstat(path).catch(() => null);
      const parentIsReal = await realpath(dirname(path)).then(
        (real) => real === dirname(path),
        () => false,
      );
      if (!found || found.ino !== ino || found.dev !== dev || !parentIsReal) continue; // only what it made, never through a folder swapped for a link
      if (found.isDirectory()) await rmdir(path).catch(() => undefined);
      else await unlink(path).catch(() => undefined);
    }
    this.made.length = 0;
  }

  async close(): Promise<void> {
    for (const link of this.links) {
      await this.checkParent(link.path);
      await symlink(link.target, link.path);
      const made = await lstat(link.path);
      this.made.push({ path: link.path, ino: made.ino, dev: made.dev });
      if (link.mtime) await lutimes(link.path, link.mtime, link.mtime);
    }
    for (const folder of this.folders.reverse()) {
      const handle = await open(folder.path, FOLDER_FLAGS);
      try {
        await this.verify(handle, folder.path, false);
        await handle.chmod(folder.mode);
        if (folder.mtime) await handle.utimes(folder.mtime, folder.mtime);
      } finally {
        await handle.close();
      }
    }
  }
}
