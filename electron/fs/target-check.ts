// The one check every place the operator names on this machine passes before a job exists (a
// restore's target folder, a repository's folder, a file to export): made absolute, symlinks of
// its existing part resolved, never on a pseudo file system (/proc, /sys, /dev: writing there
// hangs or does harm), never inside the engine's home or a repository.
import { lstat, readFile, realpath, statfs } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { LifeboatError, isErrnoCode } from '../errors.ts';

export type Mount = { mountPoint: string; fsType: string };

/** File systems of the kernel's own state, named as /proc/self/mountinfo names them. */
const PSEUDO_TYPES = new Set([
  'proc',
  'sysfs',
  'devtmpfs',
  'devpts',
  'cgroup',
  'cgroup2',
  'debugfs',
  'securityfs',
  'tracefs',
  'configfs',
  'bpf',
  'pstore',
  'efivarfs',
  'fusectl',
  'mqueue',
  'hugetlbfs',
  'binfmt_misc',
  'autofs',
  'nsfs',
  'selinuxfs',
  'rpc_pipefs',
  'nfsd',
  'smackfs',
]);

/** The same, by statfs magic, for when mountinfo cannot be read. tmpfs (0x01021994) is a fair
 * target, and devtmpfs shares its magic: /dev is caught by mountinfo's type name instead. */
const PSEUDO_MAGIC = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x73636673, 'securityfs'],
  [0x74726163, 'tracefs'],
  [0x62656570, 'configfs'],
  [0xcafe4a11, 'bpf'],
  [0x6165676c, 'pstore'],
  [0xde5e81e4, 'efivarfs'],
  [0x65735543, 'fusectl'],
  [0x19800202, 'mqueue'],
  [0x958458f6, 'hugetlbfs'],
  [0x42494e4d, 'binfmt_misc'],
  [0x0187, 'autofs'],
  [0x6e736673, 'nsfs'],
  [0xf97cff8c, 'selinuxfs'],
]);

const MAX_DEPTH = 256;

/** mountinfo escapes space, tab, newline and backslash in paths as \ooo. */
const unescapeMountPath = (text: string): string =>
  text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));

/** /proc/self/mountinfo: "id parent major:minor root mount-point options [optional…] - fstype
 * source super-options". Lines that do not have that shape are ignored. */
export function parseMountInfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    const fsType = fields[separator + 1];
    if (separator < 0 || mountPoint === undefined || !mountPoint.startsWith('/') || !fsType) continue;
    mounts.push({ mountPoint: unescapeMountPath(mountPoint), fsType: unescapeMountPath(fsType) });
  }
  return mounts;
}

/** `path` is `base` or inside it (both absolute and normalised). */
export function isWithin(path: string, base: string): boolean {
  const inside = relative(base, path);
  return inside === '' || (inside !== '..' && !inside.startsWith(`..${sep}`) && !isAbsolute(inside)); // "..name" is inside
}

/** The path with the symlinks of its existing part resolved; the part still missing is joined
 * on as given. A file where a folder should be is an error. */
export async function realTargetPath(absolute: string): Promise<{ real: string; existing: string }> {
  const missing: string[] = [];
  let existing = absolute;
  for (let depth = 0; ; depth++) {
    if (depth > MAX_DEPTH) throw new LifeboatError('bad-request', `${absolute} is too deep`);
    try {
      await lstat(existing);
      break;
    } catch (error) {
      if (isErrnoCode(error, 'ENOTDIR')) throw new LifeboatError('bad-request', `a parent of ${absolute} is not a folder`);
      if (!isErrnoCode(error, 'ENOENT'))
        throw new LifeboatError('bad-request', `${absolute} cannot be looked at: ${(error as Error).message}`);
    }
    missing.unshift(basename(existing));
    existing = dirname(existing);
  }
  let real: string;
  try {
    real = await realpath(existing);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) throw new LifeboatError('bad-request', `${existing} is a symbolic link to nowhere`);
    throw new LifeboatError('bad-request', `${existing} cannot be resolved: ${(error as Error).message}`);
  }
  if (missing.length > 0 && !(await lstat(real)).isDirectory()) throw new LifeboatError('bad-request', `${existing} is not a folder`);
  return { real: join(real, ...missing), existing: real };
}

export type TargetRules = {
  /** The engine's home. */
  home: string;
  /** Every repository the engine knows (the primary and its copies). */
  repositories: { name: string; path: string }[];
  /** The mount table; /proc/self/mountinfo unless a test gives one. */
  mounts?: () => Promise<Mount[]>;
};

async function systemMounts(): Promise<Mount[]> {
  try {
    return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  } catch {
    return []; // not Linux, or no /proc: statfs still answers
  }
}

/** The pseudo file system `real` is on, or null: any mount above it counts (a tmpfs under /sys
 * is still the kernel's). */
async function pseudoFileSystem(real: string, existing: string, mounts: Mount[]): Promise<string | null> {
  for (const mount of mounts) {
    if (PSEUDO_TYPES.has(mount.fsType) && isWithin(real, mount.mountPoint)) return `${mount.fsType} (mounted at ${mount.mountPoint})`;
  }
  for (const fixed of ['/proc', '/sys', '/dev']) if (isWithin(real, fixed)) return `the kernel's ${fixed}`;
  const magic = await statfs(existing).then(
    (stats) => stats.type,
    () => null,
  );
  const known = magic === null ? undefined : PSEUDO_MAGIC.get(magic);
  return known ?? null;
}

/** Free bytes for an unprivileged writer at `path` (an existing folder). */
export async function freeBytes(path: string): Promise<number> {
  const stats = await statfs(path);
  return stats.bavail * stats.bsize;
}

async function realOrResolved(path: string): Promise<string> {
  return (await realTargetPath(resolve(path)).catch(() => ({ real: resolve(path) }))).real;
}

/** A place made absolute, with its real path: refused when it holds a NUL or lies on a pseudo
 * file system. The engine's home passes this too before it is made. */
export async function checkOnDisk(
  path: string,
  what: string,
  mounts: () => Promise<Mount[]> = systemMounts,
): Promise<{ absolute: string; real: string; shown: string }> {
  if (path.includes('\0')) throw new LifeboatError('bad-request', `${what} holds a NUL character`);
  const absolute = resolve(path);
  const shown = absolute === path ? absolute : `${absolute} (given as ${path})`;
  const { real, existing } = await realTargetPath(absolute);
  const pseudo = await pseudoFileSystem(real, existing, await mounts());
  if (pseudo)
    throw new LifeboatError('bad-request', `${what} ${shown} is on ${pseudo}, a pseudo file system of the kernel; pick a folder on a disk`);
  return { absolute, real, shown };
}

/** Checks a place the operator named for `what` ("the restore target", "--out") and returns it
 * absolute. Refused: a NUL in it, a file where a folder is needed on the way, a pseudo file
 * system, and the engine's home or a repository or anything inside them. */
export async function checkTargetPath(path: string, what: string, rules: TargetRules): Promise<string> {
  const { absolute, real, shown } = await checkOnDisk(path, what, rules.mounts);
  const home = await realOrResolved(rules.home);
  if (isWithin(real, home))
    throw new LifeboatError('bad-request', `${what} ${shown} is inside the engine's home ${home}; pick a folder outside it`);
  for (const repository of rules.repositories) {
    const at = await realOrResolved(repository.path);
    if (isWithin(real, at))
      throw new LifeboatError('bad-request', `${what} ${shown} is inside repository ${repository.name} (${at}); pick a folder outside it`);
  }
  return absolute;
}
