// Where a disk's files are read from. The disk readers name files only through a FileSource, so
// the same readers open a VM folder on a local disk and one on a vSphere datastore (ranged HTTP
// reads, electron/drivers/vsphere/datastore-files.ts). Names are the source's own: absolute paths
// here, "[datastore] folder/file.vmdk" there.
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';
import type { Extent } from './disk.ts';
import { FileReader } from './file-reader.ts';

/** One open file. Reads always return the full length asked for (zeros past the end). */
export interface SourceFile {
  readonly path: string;
  readonly size: number;
  readInto(target: Buffer, targetOffset: number, length: number, position: number): Promise<void>;
  read(position: number, length: number): Promise<Buffer>;
  /** Data and holes of [start, end) in file positions; null when the source cannot say (read everything). */
  dataExtents(start: number, end: number): Extent[] | null;
  close(): Promise<void>;
}

export interface FileSource {
  open(name: string): Promise<SourceFile>;
  size(name: string): Promise<number>;
  /** A small whole file (a descriptor), as latin1 text. */
  readText(name: string): Promise<string>;
  /** The canonical name of `name` (an absolute path here). */
  absolute(name: string): string;
  folderOf(name: string): string;
  /** `fileName` (relative, as a descriptor names an extent or a parent) resolved against the folder of `name`. */
  beside(name: string, fileName: string): string;
  relativeTo(folder: string, name: string): string;
  /** What identifies the file whatever name reaches it (device and inode here), or null when it cannot be read. */
  identity(name: string): Promise<string | null>;
  /** The name with links resolved; throws as open does when the file is missing. */
  realName(name: string): Promise<string>;
  /** Whether real name `name` is inside `folder` (with its links resolved) or is it. */
  isInside(folder: string, name: string): Promise<boolean>;
  isFile(realName: string): Promise<boolean>;
}

/** Whether an error from a source says the file is not there: ENOENT here, a 404 from a datastore. */
export function isMissingFile(error: unknown): boolean {
  if (error instanceof LifeboatError) return error.code === 'not-found';
  return isErrnoCode(error, 'ENOENT');
}

/** The local file system, as the readers always read it. */
export const localFiles: FileSource = {
  open: (name) => FileReader.open(name),
  size: async (name) => (await stat(name)).size,
  readText: (name) => readFile(name, 'latin1'),
  absolute: (name) => resolve(name),
  folderOf: (name) => dirname(name),
  beside: (name, fileName) => join(dirname(name), fileName),
  relativeTo: (folder, name) => relative(folder, name),
  identity: async (name) => {
    try {
      const { dev, ino } = await stat(name);
      return `${dev}:${ino}`;
    } catch (error) {
      if (typeof (error as NodeJS.ErrnoException).code === 'string') return null;
      throw error;
    }
  },
  realName: (name) => realpath(name),
  isInside: async (folder, name) => {
    const real = await realpath(folder);
    return name === real || name.startsWith(real + sep);
  },
  isFile: async (name) => (await stat(name)).isFile(),
};
