// NTFS as Windows writes it, read by our reader and compared with ntfs-3g (the reference mount
// here: this kernel has no ntfs3) and ntfscat: 512-byte and 4 KiB sectors (4 KiB MFT records),
// 4 and 64 KiB clusters; every name of a hard-linked file, named streams as `name:stream`,
// sparse files as holes, DOS aliases hidden, symbolic links and junctions as links, other reparse
// points and compressed files refused by name, and path lookups in a large folder that do not
// reread the folder.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import type { Disk } from '../../electron/disks/disk.ts';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { readAll, type FileSystem, type FsEntry } from '../../electron/filesystems/file-system.ts';
import { NtfsFileSystem, parseNtfsBootSector } from '../../electron/filesystems/ntfs.ts';
import { tempDir } from '../helpers/env.ts';
import {
  NOT_SHOWN_BY_NTFS3G,
  makeWindowsImage,
  ntfs3gTree,
  ntfs3gUnavailable,
  noise,
  type NtfsLayout,
  type Ntfs3gEntry,
} from '../helpers/ntfs-images.ts';

const skip = ntfs3gUnavailable() ?? false;
const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex').slice(0, 16);
const MAX_FILE = 64 * 1024 * 1024;

/** A disk that counts its reads, to see that lookups do not reread a folder. */
class CountingDisk implements Disk {
  readonly capacity: number;
  readonly description = 'counted image';
  reads = 0;
  private readonly inner: BytesDisk;
  constructor(bytes: Buffer) {
    this.inner = new BytesDisk(bytes, 'image');
    this.capacity = bytes.length;
  }
  read(offset: number, length: number): Promise<Buffer> {
    this.reads++;
    return this.inner.read(offset, length);
  }
  async close(): Promise<void> {}
}

/** Every entry our reader lists, by path, and one comparable line each (a refused read names its code). */
async function ourTree(fs: FileSystem): Promise<{ lines: string[]; entries: Map<string, FsEntry> }> {
  const lines: string[] = [];
  const entries = new Map<string, FsEntry>();
  const queue = ['/'];
  while (queue.length > 0) {
    const folder = queue.shift() as string;
    for (const entry of await fs.list(folder)) {
      const path = `${folder === '/' ? '' : folder}/${entry.name}`;
      entries.set(path, entry);
      if (entry.type === 'dir') {
        lines.push(`${path} dir`);
        queue.push(path);
      } else if (entry.type === 'symlink') lines.push(`${path} symlink ${entry.target}`);
      else if (entry.type === 'file') {
        try {
          lines.push(`${path} file ${entry.size} ${sha(await readAll(fs, path, MAX_FILE))}`);
        } catch (error) {
          if (!(error instanceof LifeboatError)) throw error;
          lines.push(`${path} refused ${error.code}`);
        }
      } else lines.push(`${path} other ${entry.problem ?? ''}`);
    }
  }
  return { lines: lines.sort(), entries };
}

/** The same lines from what ntfs-3g shows; what it cannot show comes from NOT_SHOWN_BY_NTFS3G. */
function expectedLines(entries: Ntfs3gEntry[], streams: Ntfs3gEntry[], refused: string[]): string[] {
  const lines = entries.map((entry) => {
    if (entry.path in NOT_SHOWN_BY_NTFS3G) return NOT_SHOWN_BY_NTFS3G[entry.path] as string;
    if (refused.includes(entry.path)) return `${entry.path} refused unavailable`;
    if (entry.type === 'file') return `${entry.path} file ${entry.size} ${entry.sha}`;
    if (entry.type === 'symlink') return `${entry.path} symlink ${entry.target}`;
    return `${entry.path} ${entry.type}`;
  });
  return [...lines, ...streams.map((stream) => `${stream.path} file ${stream.size} ${stream.sha}`)].sort();
}

/** Every name of a large folder looked up by path, after one listing: the folder's index is
 * kept, so the lookups read only the files' MFT records (a 64 KiB block of them at a time). */
async function lookupsDoNotRereadTheFolder(bytes: Buffer, count: number): Promise<void> {
  const disk = new CountingDisk(bytes);
  const fs = await NtfsFileSystem.open(disk);
  const names = (await fs.list('/many')).map((entry) => entry.name);
  assert.equal(names.length, count);
  const before = disk.reads;
  for (const entry of names) assert.equal((await fs.stat(`/many/${entry}`)).name, entry);
  // Rereading the folder would cost its index blocks on every lookup: thousands of reads.
  assert.ok(disk.reads - before < count / 10, `${disk.reads - before} reads for ${count} lookups`);
  assert.equal((await readAll(fs, '/many/entry-00777.txt', 100)).toString(), 'entry 777\n');
}

/** Where a file's unnamed $DATA attribute header lies in the image (its record in the MFT's first run). */
function dataAttributeAt(bytes: Buffer, record: number): number {
  const geometry = parseNtfsBootSector(bytes.subarray(0, 512), bytes.length);
  const base = geometry.mftOffset + record * geometry.recordBytes;
  assert.equal(bytes.toString('latin1', base, base + 4), 'FILE', "the record lies in the MFT's first run");
  let at = base + bytes.readUInt16LE(base + 20);
  while (bytes.readUInt32LE(at) !== 0x80 || bytes[at + 9] !== 0) at += bytes.readUInt32LE(at + 4);
  return at;
}

/** Windows leaves a file's tail past its valid data length (initialized size) unwritten: it
 * reads as zeros. ntfs-3g does not write such files, so the field is lowered in a copy of the
 * image (it lies inside a 512-byte stride, clear of the update sequence); ntfscat agrees. An EFS
 * file (the attribute's encrypted flag, set likewise) is refused by name, as ntfscat refuses it. */
async function shortValidDataAndEfs(image: string, bytes: Buffer, record: number): Promise<void> {
  const copy = Buffer.from(bytes);
  const at = dataAttributeAt(copy, record);
  assert.equal(copy[at + 8], 1, 'tail.bin is non-resident');
  assert.equal(Number(copy.readBigUInt64LE(at + 56)), 200_000);
  copy.writeBigUInt64LE(50_000n, at + 56);
  const shortened = `${image}.short`;
  await writeFile(shortened, copy);
  const expected = execFileSync('ntfscat', [shortened, '/tail.bin'], { maxBuffer: MAX_FILE });
  assert.ok(expected.subarray(0, 50_000).equals(noise(200_000, 11).subarray(0, 50_000)));
  assert.ok(expected.subarray(50_000).equals(Buffer.alloc(150_000)), 'ntfscat reads zeros past the valid data');
  const fs = await NtfsFileSystem.open(new BytesDisk(copy, shortened));
  assert.ok((await readAll(fs, '/tail.bin', MAX_FILE)).equals(expected));
  const regions: (number | string)[] = [];
  for await (const region of fs.readRegions('/tail.bin'))
    regions.push(region instanceof Uint8Array ? region.length : `hole ${region.hole}`);
  assert.deepEqual(regions, [50_000, 'hole 150000']);

  const encrypted = Buffer.from(bytes);
  encrypted.writeUInt16LE(encrypted.readUInt16LE(at + 12) | 0x4000, at + 12);
  const efs = `${image}.efs`;
  await writeFile(efs, encrypted);
  assert.throws(() => execFileSync('ntfscat', [efs, '/tail.bin'], { stdio: 'ignore' }), 'ntfscat does not read an EFS file');
  await assert.rejects(
    readAll(await NtfsFileSystem.open(new BytesDisk(encrypted, efs)), '/tail.bin', MAX_FILE),
    /tail\.bin is encrypted \(EFS\)/,
  );
}

/** `ntfsls -R -i -F`: "/folder/:" headings, then "  record name" lines ('/' after a folder, './' itself). */
function ntfslsTree(image: string): string[] {
  const lines: string[] = [];
  let folder = '';
  for (const line of execFileSync('ntfsls', ['-R', '-i', '-F', image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(
    '\n',
  )) {
    const heading = /^(\/.*?)\/?:$/.exec(line);
    if (heading) folder = (heading[1] as string).replace(/\/$/, '');
    const entry = /^\s*(\d+) (.+?)\/?$/.exec(line);
    if (entry && entry[2] !== '.') lines.push(`${folder}/${entry[2]} ${entry[1]}`);
  }
  return lines.sort();
}

const layouts: [string, NtfsLayout][] = [
  ['s512-c4k', { sectorBytes: 512, clusterBytes: 4096, manyNames: 0 }],
  ['s4k-c4k', { sectorBytes: 4096, clusterBytes: 4096, manyNames: 1000 }],
  ['s4k-c64k', { sectorBytes: 4096, clusterBytes: 65536, manyNames: 0 }],
];

for (const [name, layout] of layouts) {
  test(`NTFS ${name}: every name, stream, link and sparse file as ntfs-3g and ntfscat show them`, { skip }, async () => {
    const dir = await tempDir();
    const image = await makeWindowsImage(dir, name, layout);
    const bytes = await readFile(image);
    const geometry = parseNtfsBootSector(bytes.subarray(0, 512), bytes.length);
    assert.equal(geometry.sectorBytes, layout.sectorBytes);
    assert.equal(geometry.clusterBytes, layout.clusterBytes);
    assert.equal(geometry.recordBytes, layout.sectorBytes === 4096 ? 4096 : 1024, 'mkntfs -s 4096 makes 4 KiB MFT records');
    const fs = await NtfsFileSystem.open(new BytesDisk(bytes, image));
    assert.equal(fs.label, name);
    const ours = await ourTree(fs);
    const reference = await ntfs3gTree(image);
    const compressed = layout.clusterBytes <= 4096 ? ['/packed/text.txt'] : [];
    assert.deepEqual(ours.lines, expectedLines(reference.entries, reference.streams, compressed));

    // Hard links: every name, one fileId (the MFT record number ntfs-3g gives as the inode) and
    // the link count; DOS aliases are not names of their own.
    for (const entry of reference.entries) {
      const mine = ours.entries.get(entry.path) as FsEntry;
      if (entry.type === 'unreadable') continue;
      assert.equal(mine.fileId, String(entry.ino), `${entry.path} fileId`);
      assert.equal(mine.mtime?.getTime(), entry.mtime, `${entry.path} mtime`);
      const dosAlias = entry.path === '/Long File Name.txt' ? 1 : 0;
      assert.equal(mine.links, (entry.nlink as number) - dosAlias, `${entry.path} links`);
      if (mine.type === 'file' && (mine.allocated ?? 0) > 0)
        assert.equal(mine.allocated, (entry.blocks as number) * 512, `${entry.path} allocated`);
    }
    // ntfsls (libntfs, no mount) names the same entries with the same MFT record numbers.
    assert.deepEqual(
      [...ours.entries]
        .filter(([, entry]) => entry.fileId !== undefined)
        .map(([path, entry]) => `${path} ${entry.fileId}`)
        .sort(),
      ntfslsTree(image),
    );
    const report = ['/docs/report.txt', '/docs/report-link.txt', '/other/again.txt'].map((path) => ours.entries.get(path));
    assert.deepEqual(
      report.map((entry) => [entry?.fileId, entry?.links]),
      [0, 1, 2].map(() => [report[0]?.fileId, 3]),
    );
    const extended = ours.entries.get('/hardlinks/name-39.txt') as FsEntry;
    assert.deepEqual(
      [extended.fileId, extended.links],
      [ours.entries.get('/hardlinks/original.txt')?.fileId, 41],
      '41 names, most in extension records',
    );
    assert.equal((ours.entries.get('/links/wsl') as FsEntry).target, '../docs/report.txt', 'a WSL symlink');
    assert.ok(!ours.entries.has('/LONGFI~1.TXT'), 'a DOS alias is not listed');
    assert.equal([...ours.entries.keys()].filter((path) => path === '/SHORT.TXT').length, 1, 'a Win32+DOS name is listed once');
    const streamEntry = ours.entries.get('/docs/report.txt:big') as FsEntry;
    assert.equal(streamEntry.fileId, undefined, 'a stream is not another name of its file');

    // Streams read the same through ntfscat, by attribute name.
    for (const stream of ['big', 'Zone.Identifier', 'sparse']) {
      const expected = execFileSync('ntfscat', ['-a', '0x80', '-n', stream, image, '/docs/report.txt'], { maxBuffer: MAX_FILE });
      assert.ok((await readAll(fs, `/other/again.txt:${stream}`, MAX_FILE)).equals(expected), `ntfscat ${stream}`);
    }
    assert.ok((await readAll(fs, '/docs/report.txt:big', MAX_FILE)).equals(noise(300_000, 7)));

    // Sparse: holes where nothing is stored, and the stored clusters only.
    const sparse = ours.entries.get('/sparse.bin') as FsEntry;
    let data = 0;
    let holes = 0;
    for await (const region of fs.readRegions('/sparse.bin')) {
      if (region instanceof Uint8Array) data += region.length;
      else holes += region.hole;
    }
    assert.equal(data + holes, 24 * 1024 * 1024);
    assert.ok(data <= (sparse.allocated as number), `only stored clusters are read (${data} of ${sparse.allocated})`);
    assert.ok(holes >= 20 * 1024 * 1024, `the unwritten 20+ MiB are holes (${holes})`);
    assert.ok((sparse.allocated as number) < 4 * 1024 * 1024);
    let streamHoles = 0;
    for await (const region of fs.readRegions('/docs/report.txt:sparse')) if (!(region instanceof Uint8Array)) streamHoles += region.hole;
    assert.ok(streamHoles >= 8 * 1024 * 1024, 'a sparse stream reads as holes too');

    // Refusals say what the file is.
    await assert.rejects(readAll(fs, '/wof.dll', 100), /Windows system-compressed \(WOF\), reparse tag 0x80000017/);
    await assert.rejects(readAll(fs, '/cloud.docx', 100), /cloud files placeholder/);
    if (compressed.length > 0) await assert.rejects(readAll(fs, '/packed/text.txt', MAX_FILE), /NTFS-compressed/);
    assert.equal((await fs.stat('/links/junction')).type, 'symlink');
    assert.deepEqual(
      [(await fs.stat('/docs:folder-note')).size, (await fs.stat('/DOCS/Report.TXT:BIG')).size],
      [21, 300_000],
      'streams (a folder stream too) are found by path, names caseless as on Windows',
    );
    await assert.rejects(fs.stat('/docs/report.txt:nothing'), /no such file, folder or stream/);
    await shortValidDataAndEfs(image, bytes, Number((await fs.stat('/tail.bin')).fileId));
    if (layout.manyNames > 0) await lookupsDoNotRereadTheFolder(bytes, layout.manyNames);
  });
}
