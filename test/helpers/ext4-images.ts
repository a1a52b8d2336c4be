// ext4 images made by the real tools for the item-level tests, and the trees the Linux kernel (a
// loop mount) and our reader see in them, in one comparable form.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, lstat, mkdir, readdir, readFile, readlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import { ExtFileSystem } from '../../electron/filesystems/ext4.ts';
import { readAll, type FileSystem } from '../../electron/filesystems/file-system.ts';

const MAX_FILE = 64 * 1024 * 1024;
const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

export const run = (command: string, ...args: string[]): string =>
  execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
/** One read-only debugfs request's answer (no echo of the command). */
export const debugfsRequest = (image: string, request: string): string =>
  execFileSync('debugfs', ['-R', request, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
/** debugfs commands run in order on one image (write mode when `write`). */
export const debugfs = (image: string, commands: string[], write = false): string =>
  execFileSync('debugfs', [...(write ? ['-w'] : []), '-f', '-', image], {
    input: commands.join('\n'),
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });

export async function openExt(image: string): Promise<ExtFileSystem> {
  return ExtFileSystem.open(new BytesDisk(await readFile(image), image));
}

/** "path type size content" lines, sorted: content is a file's hash or a symlink's target. */
export async function treeOfFileSystem(fs: FileSystem, root = '/'): Promise<string[]> {
  const lines: string[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const folder = queue.shift() as string;
    for (const entry of await fs.list(folder)) {
      const path = `${folder === '/' ? '' : folder}/${entry.name}`;
      if (path === '/lost+found') continue;
      if (entry.type === 'dir') {
        lines.push(`${path} dir`);
        queue.push(path);
      } else if (entry.type === 'symlink') lines.push(`${path} symlink ${entry.target}`);
      else if (entry.type === 'file') lines.push(`${path} file ${entry.size} ${sha(await readAll(fs, path, MAX_FILE))}`);
      else lines.push(`${path} other${entry.problem ? ` (${entry.problem})` : ''}`);
    }
  }
  return lines.sort();
}

/** The same lines for a folder the kernel mounted. */
export async function treeOfFolder(base: string, inner = ''): Promise<string[]> {
  const lines: string[] = [];
  for (const name of await readdir(join(base, inner))) {
    const path = `${inner}/${name}`;
    if (path === '/lost+found') continue;
    const info = await lstat(join(base, path));
    if (info.isDirectory()) lines.push(`${path} dir`, ...(await treeOfFolder(base, path)));
    else if (info.isSymbolicLink()) lines.push(`${path} symlink ${await readlink(join(base, path))}`);
    else if (info.isFile()) lines.push(`${path} file ${info.size} ${sha(await readFile(join(base, path)))}`);
    else lines.push(`${path} other`);
  }
  return lines.sort();
}

/** Runs `use` on the image loop-mounted by the kernel, always unmounted after. */
export async function withMount<T>(image: string, options: string, use: (folder: string) => Promise<T>): Promise<T> {
  const folder = `${image}.mnt`;
  await mkdir(folder, { recursive: true });
  execFileSync('mount', ['-o', `loop,${options}`, image, folder], { stdio: 'ignore' });
  try {
    return await use(folder);
  } finally {
    execFileSync('umount', [folder], { stdio: 'ignore' });
  }
}

/** The tree as the kernel sees it once it has replayed the journal itself, on a throw-away copy. */
export async function kernelReplayedTree(image: string): Promise<string[]> {
  const copy = `${image}.kernel-replay`;
  await copyFile(image, copy);
  return withMount(copy, 'rw', (folder) => treeOfFolder(folder));
}

export async function makeExt4(image: string, mib: number, ...options: string[]): Promise<void> {
  await writeEmpty(image, mib);
  run('mke2fs', '-q', '-F', ...(options.includes('-t') ? [] : ['-t', 'ext4']), ...options, image);
}

async function writeEmpty(image: string, mib: number): Promise<void> {
  await writeFile(image, '');
  await truncate(image, mib * 1024 * 1024);
}

/** Block numbers where two images of the same size differ, for the journal writer. */
export async function changedBlocks(before: string, after: string, blockSize: number): Promise<number[]> {
  const [a, b] = [await readFile(before), await readFile(after)];
  const out: number[] = [];
  for (let block = 0; block * blockSize < a.length; block++) {
    if (!a.subarray(block * blockSize, (block + 1) * blockSize).equals(b.subarray(block * blockSize, (block + 1) * blockSize)))
      out.push(block);
  }
  return out;
}
