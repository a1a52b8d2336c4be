// XFS images made by the real tools for the item-level tests: mkfs.xfs (populated through a
// kernel loop mount, or by mkfs's own prototype file where the kernel cannot mount the format),
// xfs_db to say which on-disk formats the files really got.
import { execFileSync } from 'node:child_process';
import { readdir, lstat, readlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Disk } from '../../electron/disks/disk.ts';
import { XfsFileSystem } from '../../electron/filesystems/xfs/xfs.ts';
import { after } from 'node:test';

/** mkfs.xfs 6.x refuses data sections under 300 MB; the image file stays sparse. */
export const XFS_IMAGE_MIB = 300;

export async function makeXfs(image: string, ...options: string[]): Promise<void> {
  await writeFile(image, '');
  await truncate(image, XFS_IMAGE_MIB * 1024 * 1024);
  execFileSync('mkfs.xfs', ['-q', '-f', ...options, image], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** xfs_db commands run read-only on one image, in order. */
export const xfsDb = (image: string, ...commands: string[]): string =>
  execFileSync('xfs_db', ['-r', ...commands.flatMap((command) => ['-c', command]), image], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

/** A path's inode number, data fork format (local, extents, btree) and extent count, as xfs_db reads them. */
export function dataFork(image: string, path: string): { format: string; extents: number } {
  const text = xfsDb(image, `path ${path}`, 'print core.format core.nextents');
  const format = /core\.format = \d+ \((\w+)\)/u.exec(text)?.[1] ?? 'unknown';
  return { format, extents: Number(/core\.nextents = (\d+)/u.exec(text)?.[1]) };
}

/** Which kind of XFS folder a path is: short-form, block, leaf or node (from its data fork and its blocks' offsets). */
export function folderForm(image: string, path: string): 'short-form' | 'block' | 'leaf' | 'node' {
  if (dataFork(image, path).format === 'local') return 'short-form';
  const offsets = [...xfsDb(image, `path ${path}`, 'bmap').matchAll(/data offset (\d+) startblock/gu)].map((match) => Number(match[1]));
  const blockSize = Number(/blocksize = (\d+)/u.exec(xfsDb(image, 'sb 0', 'print blocksize'))?.[1]);
  const leaf = (32 * 1024 ** 3) / blockSize;
  if (offsets.some((offset) => offset >= 2 * leaf)) return 'node';
  return offsets.some((offset) => offset >= leaf) ? 'leaf' : 'block';
}

/** An image file read with synchronous positional reads: the tests read thousands of small
 * inodes and blocks, and a thread-pool round trip each made them slow on a busy machine. */
export class ImageFileDisk implements Disk {
  readonly capacity: number;
  readonly description: string;
  private readonly fd: number;
  constructor(path: string) {
    this.fd = openSync(path, 'r');
    this.capacity = fstatSync(this.fd).size;
    this.description = `image ${path}`;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.capacity)
      throw new RangeError(`read of ${length} bytes at ${offset} is outside ${this.description}`);
    const bytes = Buffer.alloc(length);
    for (let done = 0; done < length;) {
      const read = readSync(this.fd, bytes, done, length - done, offset + done);
      if (read === 0) break;
      done += read;
    }
    return bytes;
  }
  async close(): Promise<void> {
    closeSync(this.fd);
  }
}

/** The reader on the image file, closed after the test file. */
export async function openXfs(image: string): Promise<XfsFileSystem> {
  const disk = new ImageFileDisk(image);
  after(() => disk.close());
  return XfsFileSystem.open(disk);
}

/** An mkfs.xfs prototype file that copies `source` (files, folders, symlinks; names without blanks),
 * with the modes and owners `owner` gives each path. */
export async function prototypeOf(source: string, owner: (path: string) => { mode: string; uid: number; gid: number }): Promise<string> {
  const lines = ['/dev/null', '0 0', 'd--755 0 0'];
  const walk = async (inner: string, depth: number): Promise<void> => {
    for (const name of (await readdir(join(source, inner))).sort()) {
      const path = `${inner}/${name}`;
      const info = await lstat(join(source, path));
      const { mode, uid, gid } = owner(path);
      const indent = ' '.repeat(depth);
      if (info.isDirectory()) {
        lines.push(`${indent}${name} d${mode} ${uid} ${gid}`);
        await walk(path, depth + 1);
        lines.push(`${indent}$`);
      } else if (info.isSymbolicLink()) lines.push(`${indent}${name} l${mode} ${uid} ${gid} ${await readlink(join(source, path))}`);
      else lines.push(`${indent}${name} -${mode} ${uid} ${gid} ${join(source, path)}`);
    }
  };
  await walk('', 1);
  lines.push('$');
  return `${lines.join('\n')}\n`;
}
