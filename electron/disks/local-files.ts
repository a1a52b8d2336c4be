// The local file system as a file source: what the disk readers always read, paths as names.
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { FileReader } from './file-reader.ts';
import type { FileSource } from './file-source.ts';

/** The local file system, as the readers always read it. */
export const localFiles: FileSource = {
  open: (name) => FileReader.open(name),
  size: async (name) => (await stat(name)).size,
  readText: (name) => readFile(name, 'latin1'),
  absolute: (name) => resolve(name),
  folderOf: (name) => dirname(name),
  beside: (name, fileName) => join(dirname(name), fileName),
  relativeTo: (folder, name) => relative(folder, name),
  // Device and inode: a chain that comes back to a file by another name (a hard or symbolic link) is still a loop.
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
