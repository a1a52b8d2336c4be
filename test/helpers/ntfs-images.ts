// NTFS images as Windows lays them out, made by the real tools: mkntfs (512-byte or 4 KiB
// sectors, 4 or 64 KiB clusters), populated through an ntfs-3g mount of a loop device (hard
// links, named streams, sparse files, DOS names, reparse points written as raw reparse data), and
// what ntfs-3g itself shows of them, for comparison with our reader.
import { execFileSync } from 'node:child_process';
import { mkdir, open, truncate, writeFile, link } from 'node:fs/promises';
import { join } from 'node:path';

const run = (command: string, ...args: string[]): string =>
  execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Why these tests cannot run here, or null: they need root (loop devices, FUSE mounts) and ntfs-3g. */
export function ntfs3gUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'ntfs-3g loop mounts need root';
  try {
    run('which', 'mkntfs', 'ntfs-3g', 'python3', 'losetup');
  } catch {
    return 'mkntfs, ntfs-3g, python3 or losetup is not installed';
  }
  return null;
}

/** Runs `use` on the image mounted by ntfs-3g through its own loop device; always unmounted and detached. */
export async function withNtfs3g<T>(image: string, options: string, use: (folder: string) => Promise<T>): Promise<T> {
  const folder = `${image}.mnt`;
  await mkdir(folder, { recursive: true });
  const device = run('losetup', '-f', '--show', image).trim();
  try {
    run('ntfs-3g', '-o', options, device, folder);
    try {
      return await use(folder);
    } finally {
      run('umount', folder);
    }
  } finally {
    run('losetup', '-d', device);
  }
}

/** Extended attributes ntfs-3g turns into NTFS structures (Node has no setxattr; python3 does). */
type XattrEdit = { path: string; name: string; value: Buffer };

function setXattrs(edits: XattrEdit[]): void {
  const script = [
    'import json, os, sys',
    'for edit in json.load(sys.stdin):',
    "    os.setxattr(edit['path'], edit['name'], bytes.fromhex(edit['value']), follow_symlinks=False)",
  ].join('\n');
  execFileSync('python3', ['-c', script], {
    input: JSON.stringify(edits.map((edit) => ({ ...edit, value: edit.value.toString('hex') }))),
    stdio: ['pipe', 'ignore', 'pipe'],
  });
}

/** A reparse point as Windows writes it: tag, data length, reserved, then the tag's data. */
function reparseData(tag: number, data: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(tag, 0);
  header.writeUInt16LE(data.length, 4);
  return Buffer.concat([header, data]);
}

/** IO_REPARSE_TAG_SYMLINK (flags 1: relative) or IO_REPARSE_TAG_MOUNT_POINT (a junction). */
export function linkReparse(kind: 'symlink' | 'junction', substitute: string, print: string, relative = false): Buffer {
  const terminator = kind === 'junction' ? Buffer.alloc(2) : Buffer.alloc(0);
  const sub = Buffer.concat([Buffer.from(substitute, 'utf16le'), terminator]);
  const prn = Buffer.concat([Buffer.from(print, 'utf16le'), terminator]);
  const header = Buffer.alloc(kind === 'symlink' ? 12 : 8);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(sub.length - terminator.length, 2);
  header.writeUInt16LE(sub.length, 4);
  header.writeUInt16LE(prn.length - terminator.length, 6);
  if (kind === 'symlink') header.writeUInt32LE(relative ? 1 : 0, 8);
  return reparseData(kind === 'symlink' ? 0xa000000c : 0xa0000003, Buffer.concat([header, sub, prn]));
}

/** Deterministic bytes that do not compress. */
export function noise(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

export type NtfsLayout = { sectorBytes: 512 | 4096; clusterBytes: number; manyNames: number };

/** Paths ntfs-3g shows otherwise (absolute links point into its own `.NTFS-3G` junction folder
 * under the mount, or fail; a UNC link and other reparse tags have no plugin), with the line our
 * reader is expected to give: the target as Windows wrote it, or a refusal. */
export const NOT_SHOWN_BY_NTFS3G: Record<string, string> = {
  '/links/absolute': '/links/absolute symlink C:\\Users\\Public',
  '/links/junction': '/links/junction symlink C:\\Windows',
  '/links/unc': '/links/unc symlink \\\\server\\share\\reports',
  '/wof.dll': '/wof.dll refused unavailable',
  '/cloud.docx': '/cloud.docx refused unavailable',
};

/** A volume with what Windows servers have: hard links within and across folders, named streams
 * (resident, non-resident, sparse, on a folder), a sparse file, long names with DOS aliases,
 * symbolic links and junctions, system-compressed and cloud placeholder files, a large folder,
 * and (4 KiB clusters) an NTFS-compressed file. */
export async function makeWindowsImage(dir: string, name: string, layout: NtfsLayout): Promise<string> {
  const image = join(dir, `${name}.img`);
  await writeFile(image, '');
  await truncate(image, 64 * 1024 * 1024);
  run('mkntfs', '-q', '-F', '-f', '-s', String(layout.sectorBytes), '-c', String(layout.clusterBytes), '-L', name, image);
  await withNtfs3g(image, 'streams_interface=windows', async (root) => {
    const at = (path: string): string => join(root, path);
    await mkdir(at('docs'));
    await mkdir(at('other'));
    await mkdir(at('links'));
    await mkdir(at('$RECYCLE.BIN'));
    await writeFile(at('$RECYCLE.BIN/desktop.ini'), 'recycled\n');
    await writeFile(at('docs/report.txt'), 'quarterly report\n');
    await link(at('docs/report.txt'), at('docs/report-link.txt'));
    await link(at('docs/report.txt'), at('other/again.txt'));
    await writeFile(at('docs/report.txt:Zone.Identifier'), '[ZoneTransfer]\r\nZoneId=3\r\n');
    await writeFile(at('docs/report.txt:big'), noise(300_000, 7));
    await writeFile(at('docs/report.txt:sparse'), '');
    await truncate(at('docs/report.txt:sparse'), 10 * 1024 * 1024);
    const sparseStream = await open(at('docs/report.txt:sparse'), 'r+');
    await sparseStream.write(Buffer.from('middle of a sparse stream'), 0, 25, 5 * 1024 * 1024);
    await sparseStream.close();
    await writeFile(at('docs:folder-note'), 'a stream on a folder\n');
    await writeFile(at('sparse.bin'), '');
    await truncate(at('sparse.bin'), 24 * 1024 * 1024);
    const sparse = await open(at('sparse.bin'), 'r+');
    await sparse.write(noise(70_000, 3), 0, 70_000, 0);
    await sparse.write(Buffer.from('twenty'), 0, 6, 20 * 1024 * 1024);
    await sparse.write(Buffer.from('end'), 0, 3, 24 * 1024 * 1024 - 3);
    await sparse.close();
    await writeFile(at('tail.bin'), noise(200_000, 11));
    await writeFile(at('Long File Name.txt'), 'long\n');
    await writeFile(at('SHORT.TXT'), 'short\n');
    await writeFile(at('links/relative'), '');
    await writeFile(at('links/absolute'), '');
    await writeFile(at('links/unc'), '');
    await mkdir(at('links/junction'));
    await writeFile(at('links/wsl'), '');
    // Enough names that their $FILE_NAME attributes overflow the record into extension records
    // (an $ATTRIBUTE_LIST), with 1 KiB and with 4 KiB records.
    await mkdir(at('hardlinks'));
    await writeFile(at('hardlinks/original.txt'), 'one file, many names\n');
    for (let index = 0; index < 40; index++)
      await link(at('hardlinks/original.txt'), at(`hardlinks/name-${String(index).padStart(2, '0')}.txt`));
    await writeFile(at('wof.dll'), '');
    await writeFile(at('cloud.docx'), '');
    const wof = Buffer.alloc(16);
    wof.writeUInt32LE(1, 0);
    wof.writeUInt32LE(2, 4);
    const edits: XattrEdit[] = [
      { path: at('Long File Name.txt'), name: 'system.ntfs_dos_name', value: Buffer.from('LONGFI~1.TXT') },
      { path: at('SHORT.TXT'), name: 'system.ntfs_dos_name', value: Buffer.from('SHORT.TXT') },
      {
        path: at('links/relative'),
        name: 'system.ntfs_reparse_data',
        value: linkReparse('symlink', '..\\docs\\report.txt', '..\\docs\\report.txt', true),
      },
      {
        path: at('links/absolute'),
        name: 'system.ntfs_reparse_data',
        value: linkReparse('symlink', '\\??\\C:\\Users\\Public', 'C:\\Users\\Public'),
      },
      { path: at('links/unc'), name: 'system.ntfs_reparse_data', value: linkReparse('symlink', '\\??\\UNC\\server\\share\\reports', '') },
      { path: at('links/junction'), name: 'system.ntfs_reparse_data', value: linkReparse('junction', '\\??\\C:\\Windows', 'C:\\Windows') },
      {
        path: at('links/wsl'),
        name: 'system.ntfs_reparse_data',
        value: reparseData(0xa000001d, Buffer.concat([Buffer.from([2, 0, 0, 0]), Buffer.from('../docs/report.txt')])),
      },
      { path: at('wof.dll'), name: 'system.ntfs_reparse_data', value: reparseData(0x80000017, wof) },
      { path: at('cloud.docx'), name: 'system.ntfs_reparse_data', value: reparseData(0x9000101a, Buffer.alloc(8)) },
    ];
    if (layout.clusterBytes <= 4096) {
      // ntfs-3g compresses new files in a folder marked compressed (FILE_ATTRIBUTE_COMPRESSED 0x800).
      await mkdir(at('packed'));
      edits.push({ path: at('packed'), name: 'system.ntfs_attrib_be', value: Buffer.from([0, 0, 0x08, 0x10]) });
    }
    setXattrs(edits);
    if (layout.clusterBytes <= 4096) await writeFile(at('packed/text.txt'), 'compress me\n'.repeat(20_000));
    if (layout.manyNames > 0) {
      await mkdir(at('many'));
      for (let index = 0; index < layout.manyNames; index++)
        await writeFile(at(`many/entry-${String(index).padStart(5, '0')}.txt`), `entry ${index}\n`);
    }
  });
  return image;
}

export type Ntfs3gEntry = {
  path: string;
  type: 'dir' | 'file' | 'symlink' | 'other' | 'unreadable';
  ino?: number;
  nlink?: number;
  blocks?: number;
  /** Milliseconds since 1970. */
  mtime?: number;
  size?: number;
  sha?: string;
  target?: string;
  streams?: string[];
};

const WALK = `
import hashlib, json, os, stat, sys
root, mode = sys.argv[1], sys.argv[2]
def digest(path):
    h, n = hashlib.sha256(), 0
    with open(path, 'rb') as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return n, h.hexdigest()[:16]
            h.update(chunk)
            n += len(chunk)
out = []
def walk(rel):
    for name in sorted(os.listdir(root + rel if rel else root)):
        path = rel + '/' + name
        try:
            st = os.lstat(root + path)
        except OSError:
            out.append({'path': path, 'type': 'unreadable'})
            continue
        item = {'path': path, 'ino': st.st_ino, 'nlink': st.st_nlink, 'blocks': st.st_blocks, 'mtime': st.st_mtime_ns // 1000000}
        if stat.S_ISDIR(st.st_mode):
            item['type'] = 'dir'
        elif stat.S_ISLNK(st.st_mode):
            item['type'] = 'symlink'
            item['target'] = os.readlink(root + path)
        elif stat.S_ISREG(st.st_mode):
            item['type'] = 'file'
            item['size'], item['sha'] = digest(root + path)
        else:
            item['type'] = 'other'
        try:
            item['streams'] = sorted(n[5:] for n in os.listxattr(root + path, follow_symlinks=False) if n.startswith('user.'))
        except OSError:
            item['streams'] = []
        out.append(item)
        if item['type'] == 'dir':
            walk(path)
if mode == 'tree':
    walk('')
else:
    for path in json.load(sys.stdin):
        size, sha = digest(root + path)
        out.append({'path': path, 'type': 'file', 'size': size, 'sha': sha})
json.dump(out, sys.stdout)
`;

/** The whole tree as ntfs-3g shows it (streams named through its xattr interface), then every
 * stream's bytes read through its Windows interface (`file:stream`). */
export async function ntfs3gTree(image: string): Promise<{ entries: Ntfs3gEntry[]; streams: Ntfs3gEntry[] }> {
  const walk = (folder: string, mode: string, input = ''): Ntfs3gEntry[] =>
    JSON.parse(
      execFileSync('python3', ['-c', WALK, folder, mode], {
        input,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    ) as Ntfs3gEntry[];
  const entries = await withNtfs3g(image, 'ro,streams_interface=xattr', async (folder) => walk(folder, 'tree'));
  const streamPaths = entries.flatMap((entry) => (entry.streams ?? []).map((stream) => `${entry.path}:${stream}`));
  const streams = await withNtfs3g(image, 'ro,streams_interface=windows', async (folder) =>
    walk(folder, 'streams', JSON.stringify(streamPaths)),
  );
  return { entries, streams };
}
