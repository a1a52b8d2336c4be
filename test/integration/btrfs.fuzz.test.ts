// The btrfs reader on damaged bytes of a real image (mkfs.btrfs, populated through a kernel loop
// mount with zstd, lzo and zlib files, inline and regular, a subvolume, holes): the superblock,
// chunk tree, root tree and file system tree blocks (damaged, then given a valid checksum so the
// parsers meet the damage), and compressed extent payloads. Every walk of the whole tree ends
// within a bounded time with data or with our own clear error. The LZO decompressor is checked on
// the extents btrfs itself wrote, against the bytes the kernel reads.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Disk } from '../../electron/disks/disk.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { crc32c } from '../../electron/filesystems/crc32c.ts';
import { BtrfsFileSystem } from '../../electron/filesystems/btrfs/btrfs.ts';
import { btrfsLzoDecompress, lzo1xDecompress } from '../../electron/filesystems/btrfs/lzo.ts';
import { decompress } from '../../electron/filesystems/btrfs/compression.ts';
import type { FileSystem } from '../../electron/filesystems/file-system.ts';
import { tempDir } from '../helpers/env.ts';
import { makeBtrfs, withBtrfsMount } from '../helpers/btrfs-images.ts';
import { run } from '../helpers/ext4-images.ts';

const skip = process.getuid?.() !== 0 ? 'needs root: the image is populated through a kernel loop mount' : false;
const MAX_WALK_MS = 3000;
const NODE = 16384;
const SUPERBLOCK = 0x10000;
const RUNS = 25;

const content = (name: string, bytes: number): Buffer => Buffer.alloc(bytes, `${name}: a line that compresses well, ${name.length}\n`);

/** The image with some ranges overwritten: no copy of the whole image per run. */
class PatchedDisk implements Disk {
  readonly capacity: number;
  readonly description = 'damaged btrfs image';
  private readonly base: Buffer;
  private readonly patches: { offset: number; bytes: Buffer }[];
  constructor(base: Buffer, patches: { offset: number; bytes: Buffer }[]) {
    this.base = base;
    this.capacity = base.length;
    this.patches = patches;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.capacity) throw new RangeError('outside the image');
    const out = Buffer.from(this.base.subarray(offset, offset + length));
    for (const patch of this.patches) {
      const from = Math.max(offset, patch.offset);
      const to = Math.min(offset + length, patch.offset + patch.bytes.length);
      if (from < to) patch.bytes.copy(out, from - offset, from - patch.offset, to - patch.offset);
    }
    return out;
  }
  async close(): Promise<void> {}
}

async function walk(fs: FileSystem): Promise<void> {
  let seen = 0;
  const queue = ['/'];
  while (queue.length > 0 && seen < 400) {
    const path = queue.shift() as string;
    for (const entry of await fs.list(path)) {
      seen++;
      const child = `${path === '/' ? '' : path}/${entry.name}`;
      if (entry.type === 'dir') queue.push(child);
      else if (entry.type === 'file') {
        let read = 0;
        for await (const chunk of fs.read(child)) {
          read += chunk.length;
          if (read >= 4 * 1024 * 1024) break;
        }
      }
    }
  }
}

async function survives(disk: Disk): Promise<void> {
  const started = performance.now();
  try {
    await walk(await BtrfsFileSystem.open([disk]));
  } catch (error) {
    assert.ok(
      error instanceof LifeboatError || error instanceof RangeError,
      `unexpected ${(error as Error).constructor.name}: ${(error as Error).stack}`,
    );
  }
  assert.ok(performance.now() - started < MAX_WALK_MS, 'a damaged image must not hang the walk');
}

/** A tree block (or superblock) with bytes changed after its checksum, then checksummed again. */
function rechecksummed(block: Buffer, changes: [number, number][]): Buffer {
  const out = Buffer.from(block);
  for (const [at, value] of changes) out[32 + (at % (out.length - 32))] = value;
  out.writeUInt32LE((crc32c(0xffffffff, out.subarray(32)) ^ 0xffffffff) >>> 0, 0);
  return out;
}

type Extent = {
  inode: number;
  fileOffset: number;
  disk: number;
  diskBytes: number;
  offset: number;
  length: number;
  ram: number;
  compression: number;
};

/** Compressed regular extents, as `btrfs inspect-internal dump-tree` shows them. */
function compressedExtents(dump: string): Extent[] {
  const pattern =
    /key \((\d+) EXTENT_DATA (\d+)\)[^\n]*\n\s*generation \d+ type 1 \(regular\)\n\s*extent data disk byte (\d+) nr (\d+)\n\s*extent data offset (\d+) nr (\d+) ram (\d+)\n\s*extent compression (\d)/g;
  return [...dump.matchAll(pattern)].map((match) => {
    const [inode, fileOffset, disk, diskBytes, offset, length, ram, compression] = match.slice(1).map(Number) as number[];
    return { inode, fileOffset, disk, diskBytes, offset, length, ram, compression } as Extent;
  });
}

/** Inode number → name, from the INODE_REF items of a dump. */
function names(dump: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const match of dump.matchAll(/key \((\d+) INODE_REF \d+\)[^\n]*\n\s*index \d+ namelen \d+ name: ([^\n]+)/g))
    out.set(Number(match[1]), match[2] as string);
  return out;
}

/** btrfs-map-logical's answer (it exits 1 after printing where the extent is, when it finds no
 * extent item that starts there). */
function mapLogical(logical: number, image: string): string {
  try {
    return execFileSync('btrfs-map-logical', ['-l', String(logical), image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    return String((error as { stdout?: string }).stdout ?? '');
  }
}

type Built = { image: Buffer; files: Map<string, Buffer>; extents: (Extent & { physical: number; name: string })[] };
let built: Promise<Built> | undefined;

/** The image, built once for both tests. */
function buildImage(): Promise<Built> {
  built ??= makeImage();
  return built;
}

async function makeImage(): Promise<Built> {
  const dir = await tempDir('lifeboat-btrfs-fuzz-');
  const path = join(dir, 'fuzz.img');
  await makeBtrfs([path], 120, '-m', 'single', '-d', 'single');
  const files = new Map<string, Buffer>();
  await withBtrfsMount([path], 'compress=zstd', async (folder) => {
    run('btrfs', 'subvolume', 'create', join(folder, 'sub'));
    for (const kind of ['zstd', 'lzo', 'zlib']) {
      const at = join(folder, 'sub', kind);
      await mkdir(at);
      run('btrfs', 'property', 'set', at, 'compression', kind);
      for (const [name, bytes] of [
        [`${kind}-small`, 2000],
        [`${kind}-large`, 400_000],
      ] as const) {
        files.set(name, content(name, bytes));
        await writeFile(join(at, name), content(name, bytes));
      }
    }
    await mkdir(join(folder, 'folder'));
    for (let i = 0; i < 150; i++) await writeFile(join(folder, 'folder', `f${i}`), `${i}\n`);
  });
  const dump = run('btrfs', 'inspect-internal', 'dump-tree', '-t', '256', path);
  const byInode = names(dump);
  const extents = compressedExtents(dump).map((extent) => {
    const physical = Number(/physical (\d+)/.exec(mapLogical(extent.disk, path))?.[1]);
    return { ...extent, physical, name: byInode.get(extent.inode) ?? '' };
  });
  return { image: await readFile(path), files, extents };
}

test(
  'btrfs fuzz: damaged superblock, chunk, root and file system tree blocks and compressed extents end in data or a clear error',
  { skip },
  async () => {
    const { image, extents } = await buildImage();
    const fsid = image.subarray(SUPERBLOCK + 0x20, SUPERBLOCK + 0x30);
    // Every tree block: at a node-size boundary, the file system's id, a good checksum.
    const blocks: { at: number; owner: number }[] = [];
    for (let at = 0; at + NODE <= image.length; at += NODE) {
      const block = image.subarray(at, at + NODE);
      if (!block.subarray(0x20, 0x30).equals(fsid) || (crc32c(0xffffffff, block.subarray(32)) ^ 0xffffffff) >>> 0 !== block.readUInt32LE(0))
        continue;
      blocks.push({ at, owner: block.readUInt32LE(0x58) });
    }
    const chunkBlocks = blocks.filter((block) => block.owner === 3);
    const rootBlocks = blocks.filter((block) => block.owner === 1);
    const fsBlocks = blocks.filter((block) => block.owner === 5 || block.owner === 256);
    assert.ok(chunkBlocks.length > 0 && rootBlocks.length > 0 && fsBlocks.length > 0, 'the image has tree blocks of every kind');
    assert.ok(extents.some((extent) => extent.compression === 2) && extents.some((extent) => extent.compression === 3));

    await survives(new PatchedDisk(image, []));
    const changes = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 });
    const superblock = image.subarray(SUPERBLOCK, SUPERBLOCK + 4096);
    await fc.assert(
      fc.asyncProperty(changes, fc.boolean(), async (edits, fixSum) => {
        const bytes = fixSum ? rechecksummed(superblock, edits) : Buffer.from(superblock);
        if (!fixSum) for (const [at, value] of edits) bytes[at % bytes.length] = value;
        await survives(new PatchedDisk(image, [{ offset: SUPERBLOCK, bytes }]));
      }),
      { numRuns: RUNS },
    );
    for (const kind of [chunkBlocks, rootBlocks, fsBlocks])
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: kind.length - 1 }), changes, async (index, edits) => {
          const { at } = kind[index] as { at: number };
          await survives(new PatchedDisk(image, [{ offset: at, bytes: rechecksummed(image.subarray(at, at + NODE), edits) }]));
        }),
        { numRuns: RUNS },
      );
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: extents.length - 1 }), changes, async (index, edits) => {
        const extent = extents[index] as Extent & { physical: number };
        const bytes = Buffer.from(image.subarray(extent.physical, extent.physical + extent.diskBytes));
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        await survives(new PatchedDisk(image, [{ offset: extent.physical, bytes }]));
      }),
      { numRuns: RUNS },
    );
  },
);

test(
  'LZO: the extents btrfs wrote decompress to the bytes the kernel wrote; damaged or random input is a clear error',
  { skip },
  async () => {
    const { image, files, extents } = await buildImage();
    const lzo = extents.filter((extent) => extent.compression === 2);
    assert.ok(lzo.length >= 3, 'btrfs wrote LZO extents');
    for (const extent of [...lzo, ...extents.filter((other) => other.compression !== 2)]) {
      const expected = files.get(extent.name);
      assert.ok(expected, `extent of inode ${extent.inode} belongs to a written file`);
      const payload = image.subarray(extent.physical, extent.physical + extent.diskBytes);
      const whole =
        extent.compression === 2
          ? btrfsLzoDecompress(payload, extent.ram, 4096)
          : decompress(extent.compression, payload, extent.ram, 4096);
      // num_bytes counts whole sectors: the file may end inside the last one.
      const length = Math.min(extent.length, expected.length - extent.fileOffset);
      assert.ok(
        whole.subarray(extent.offset, extent.offset + length).equals(expected.subarray(extent.fileOffset, extent.fileOffset + length)),
        `${extent.name} at ${extent.fileOffset}`,
      );
    }
    const segment = (() => {
      const payload = image.subarray((lzo[0] as { physical: number }).physical);
      return payload.subarray(8, 8 + payload.readUInt32LE(4));
    })();
    const clear = (run: () => unknown): void => {
      try {
        const out = run() as Uint8Array;
        assert.ok(out.length <= 4096);
      } catch (error) {
        assert.ok(error instanceof LifeboatError, `unexpected ${(error as Error).stack}`);
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => clear(() => lzo1xDecompress(bytes, 4096))),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const bytes = Buffer.from(segment);
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        clear(() => lzo1xDecompress(bytes, 4096));
        clear(() => btrfsLzoDecompress(Buffer.concat([Buffer.from([0, 0, 0, 0]), bytes]), 4096, 4096));
      }),
      { numRuns: 500 },
    );
  },
);
