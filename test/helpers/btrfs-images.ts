// btrfs images made by the real tools (mkfs.btrfs on image files, populated through kernel loop
// mounts), and the trees the kernel and our reader see in them, in one comparable form: every
// entry's type, size, mode, mtime (ms), link count and content hash, and which names are one file.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, open, readdir, readFile, readlink, rmdir, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import { RawDisk } from '../../electron/disks/raw-disk.ts';
import { BtrfsFileSystem } from '../../electron/filesystems/btrfs/btrfs.ts';
import { readAll, type FileSystem } from '../../electron/filesystems/file-system.ts';
import { run } from './ext4-images.ts';

const MAX_FILE = 64 * 1024 * 1024;
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

/** Empty image files of `mib` MiB each, made into one btrfs by mkfs.btrfs with `options`. */
export async function makeBtrfs(images: string[], mib: number, ...options: string[]): Promise<void> {
  for (const image of images) {
    await writeFile(image, '');
    await truncate(image, mib * 1024 * 1024);
  }
  run('mkfs.btrfs', '-q', '-f', ...options, ...images);
}

/** Runs `use` with the images attached to fresh loop devices and mounted as one btrfs; always
 * unmounted and detached after. `images` may be a subset of the members (then `degraded`). */
export async function withBtrfsMount<T>(images: string[], options: string, use: (folder: string) => Promise<T>): Promise<T> {
  const folder = `${images[0]}.mnt`;
  await mkdir(folder, { recursive: true });
  const loops: string[] = [];
  try {
    for (const image of images) loops.push(run('losetup', '-f', '--show', image).trim());
    const devices = loops.map((loop) => `device=${loop}`).join(',');
    execFileSync('mount', ['-t', 'btrfs', '-o', [devices, options].filter(Boolean).join(','), loops[0] as string, folder], {
      stdio: 'pipe',
    });
    try {
      return await use(folder);
    } finally {
      execFileSync('umount', [folder], { stdio: 'ignore' });
    }
  } finally {
    for (const loop of loops) execFileSync('losetup', ['-d', loop], { stdio: 'ignore' });
    await rmdir(folder).catch(() => undefined);
  }
}

/** Our reader on the image files, which are closed after the test file. */
export async function openBtrfs(images: string[]): Promise<BtrfsFileSystem> {
  const disks = await Promise.all(images.map((image) => RawDisk.open(image)));
  after(() => Promise.all(disks.map((disk) => disk.close())));
  return BtrfsFileSystem.open(disks);
}

export type Tree = { lines: string[]; links: string[] };

const line = (path: string, type: string, details: string): string => `${path} ${type} ${details}`;

/** Names that are one file, as sorted groups of two or more. */
function linkGroups(ids: Map<string, string[]>): string[] {
  return [...ids.values()]
    .filter((paths) => paths.length > 1)
    .map((paths) => paths.sort().join(' = '))
    .sort();
}

/** The tree our reader shows from `root`. */
export async function readerTree(fs: FileSystem, root = '/'): Promise<Tree> {
  const lines: string[] = [];
  const ids = new Map<string, string[]>();
  const queue = [root];
  while (queue.length > 0) {
    const folder = queue.shift() as string;
    for (const entry of await fs.list(folder)) {
      const path = `${folder === '/' ? '' : folder}/${entry.name}`;
      const mode = (entry.mode ?? 0).toString(8);
      const mtime = entry.mtime?.getTime() ?? 'none';
      if (entry.type === 'dir') {
        lines.push(line(path, 'dir', `${mode} ${mtime}`));
        queue.push(path);
        continue;
      }
      ids.set(entry.fileId ?? path, [...(ids.get(entry.fileId ?? path) ?? []), path]);
      if (entry.type === 'symlink') lines.push(line(path, 'symlink', `${mode} ${entry.links} ${entry.target}`));
      else if (entry.type === 'file')
        lines.push(line(path, 'file', `${entry.size} ${mode} ${mtime} ${entry.links} ${sha(await readAll(fs, path, MAX_FILE))}`));
      else lines.push(line(path, 'other', entry.problem ?? ''));
    }
  }
  return { lines: lines.sort(), links: linkGroups(ids) };
}

/** The same for a folder the kernel mounted. */
export async function kernelTree(base: string): Promise<Tree> {
  const lines: string[] = [];
  const ids = new Map<string, string[]>();
  const walk = async (inner: string): Promise<void> => {
    for (const name of await readdir(join(base, inner))) {
      const path = `${inner}/${name}`;
      const info = await lstat(join(base, path), { bigint: true });
      const mode = (Number(info.mode) & 0o7777).toString(8);
      const mtime = Number(info.mtimeNs / 1_000_000n);
      if (info.isDirectory()) {
        lines.push(line(path, 'dir', `${mode} ${mtime}`));
        await walk(path);
        continue;
      }
      const id = `${info.dev}:${info.ino}`;
      ids.set(id, [...(ids.get(id) ?? []), path]);
      if (info.isSymbolicLink()) lines.push(line(path, 'symlink', `${mode} ${info.nlink} ${await readlink(join(base, path))}`));
      else if (info.isFile())
        lines.push(line(path, 'file', `${info.size} ${mode} ${mtime} ${info.nlink} ${sha(await readFile(join(base, path)))}`));
      else lines.push(line(path, 'other', ''));
    }
  };
  await walk('');
  return { lines: lines.sort(), links: linkGroups(ids) };
}

/** Equal trees, or a failure that names only the lines that differ. */
export function assertSameTree(ours: Tree, kernel: Tree, what = 'tree'): void {
  const theirs = new Set(kernel.lines);
  const mine = new Set(ours.lines);
  const onlyOurs = ours.lines.filter((entry) => !theirs.has(entry));
  const onlyKernel = kernel.lines.filter((entry) => !mine.has(entry));
  if (onlyOurs.length + onlyKernel.length > 0)
    throw new Error(
      `${what} differs from the kernel's:\nonly ours:\n${onlyOurs.slice(0, 20).join('\n')}\nonly the kernel's:\n${onlyKernel.slice(0, 20).join('\n')}`,
    );
  if (ours.lines.length !== kernel.lines.length)
    throw new Error(`${what}: ${ours.lines.length} entries, the kernel ${kernel.lines.length}`);
  const links = JSON.stringify(ours.links) === JSON.stringify(kernel.links);
  if (!links)
    throw new Error(`${what}: hard links differ: ours ${JSON.stringify(ours.links)}, the kernel's ${JSON.stringify(kernel.links)}`);
}

const MIB = 1024 * 1024;

export const text = (seed: string, bytes: number): Buffer => Buffer.alloc(bytes, `${seed} compressible line of text\n`);
export const random = (bytes: number, seed: number): Buffer => {
  const out = Buffer.alloc(bytes);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
};

/** Files of every kind the reader must get right, written in `folder` through the kernel. */
export async function writeVariety(folder: string, tag: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'small.txt'), text(`${tag} small`, 1800)); // inline, compressed where compression is on
  await writeFile(join(folder, 'tiny.txt'), `${tag}\n`);
  await writeFile(join(folder, 'large.txt'), text(`${tag} large`, 3 * MIB + 123));
  await writeFile(join(folder, 'random.bin'), random(300_000, tag.length + 7));
  await writeFile(join(folder, 'empty'), '');
  // A compressed file rewritten in its middle: extents that start inside a compressed extent.
  const patched = join(folder, 'patched.txt');
  await writeFile(patched, text(`${tag} patched`, 700_000));
  execFileSync('sync', [patched]);
  const handle = await open(patched, 'r+');
  await handle.write(random(5000, 3), 0, 5000, 200_000);
  await handle.close();
  // Sparse: data in the middle, a hole at the start and the end; a hole punched in a file.
  const sparse = await open(join(folder, 'sparse.bin'), 'w');
  await sparse.write(random(10_000, 9), 0, 10_000, 3 * MIB);
  await sparse.truncate(9 * MIB);
  await sparse.close();
  await writeFile(join(folder, 'punched.bin'), random(600_000, 11));
  run('fallocate', '-p', '-o', '131072', '-l', '262144', join(folder, 'punched.bin'));
  run('fallocate', '-l', String(MIB), join(folder, 'prealloc.bin'));
  const prealloc = await open(join(folder, 'prealloc.bin'), 'r+');
  await prealloc.write(Buffer.from('written at the start of a preallocated file'), 0);
  await prealloc.close();
}
