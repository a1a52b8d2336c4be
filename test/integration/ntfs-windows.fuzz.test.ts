// The NTFS reader on damaged real images: mkntfs volumes populated through ntfs-3g with hard
// links, named streams, sparse files, DOS names, symbolic links, junctions and other reparse
// points, with 512-byte sectors (1 KiB records) and 4 KiB sectors (4 KiB records), random bytes
// of their MFT records, index blocks and boot sector changed. Every walk of the whole tree ends,
// quickly, with data or our own clear error (isReadFailure), never a hang or a crash.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Disk } from '../../electron/disks/disk.ts';
import { isReadFailure, type FileSystem } from '../../electron/filesystems/file-system.ts';
import { NtfsFileSystem, parseNtfsBootSector, parseReparsePoint } from '../../electron/filesystems/ntfs.ts';
import { tempDir } from '../helpers/env.ts';
import { makeWindowsImage, ntfs3gUnavailable, type NtfsLayout } from '../helpers/ntfs-images.ts';

const skip = ntfs3gUnavailable() ?? false;
const MAX_WALK_MS = 3000;
const MAX_READ_PER_FILE = 1024 * 1024;

/** The image with some bytes changed (xor), without copying the whole image per run. */
class DamagedDisk implements Disk {
  readonly capacity: number;
  readonly description = 'damaged image';
  private readonly bytes: Buffer;
  private readonly changes: Map<number, number>;
  constructor(bytes: Buffer, changes: Map<number, number>) {
    this.bytes = bytes;
    this.changes = changes;
    this.capacity = bytes.length;
  }
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset < 0 || length < 0 || offset + length > this.capacity) throw new RangeError('outside the image');
    const out = Buffer.from(this.bytes.subarray(offset, offset + length));
    for (const [at, xor] of this.changes) if (at >= offset && at < offset + length) out[at - offset] = (out[at - offset] as number) ^ xor;
    return out;
  }
  async close(): Promise<void> {}
}

/** Lists and reads everything it can (an unreadable folder or file is passed over, as the index
 * job does), bounded in entries and bytes; any other error escapes. Returns the entries seen. */
async function walk(fs: FileSystem): Promise<number> {
  let seen = 0;
  const queue = ['/'];
  const tolerate = (error: unknown): void => {
    if (!isReadFailure(error)) throw error;
  };
  while (queue.length > 0 && seen < 500) {
    const path = queue.shift() as string;
    let entries;
    try {
      entries = await fs.list(path);
    } catch (error) {
      tolerate(error);
      continue;
    }
    for (const entry of entries) {
      seen++;
      const child = `${path === '/' ? '' : path}/${entry.name}`;
      if (entry.type === 'dir') queue.push(child);
      if (entry.type !== 'file') continue;
      try {
        await fs.stat(child);
        let read = 0;
        for await (const region of fs.readRegions?.(child) ?? fs.read(child)) {
          read += region instanceof Uint8Array ? region.length : Math.min(region.hole, MAX_READ_PER_FILE);
          if (read >= MAX_READ_PER_FILE) break;
        }
      } catch (error) {
        tolerate(error);
      }
    }
  }
  return seen;
}

async function survives(bytes: Buffer, changes: Map<number, number>): Promise<void> {
  const started = performance.now();
  try {
    await walk(await NtfsFileSystem.open(new DamagedDisk(bytes, changes)));
  } catch (error) {
    assert.ok(isReadFailure(error), `unexpected ${(error as Error).constructor.name}: ${(error as Error).message}`);
  }
  assert.ok(performance.now() - started < MAX_WALK_MS, 'a damaged image must not hang the walk');
}

/** Byte ranges worth damaging: the boot sector, the MFT's first records (the system files and
 * every file the image holds) and every INDX block. */
function metadataRanges(bytes: Buffer): { from: number; length: number }[] {
  const geometry = parseNtfsBootSector(bytes.subarray(0, 512), bytes.length);
  const ranges = [
    { from: 0, length: 512 },
    { from: geometry.mftOffset, length: 128 * geometry.recordBytes },
  ];
  for (let at = 0; at + 4 <= bytes.length; at += 512)
    if (bytes.toString('latin1', at, at + 4) === 'INDX') ranges.push({ from: at, length: geometry.indexBytes });
  return ranges;
}

const edits = fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 16 });

const layouts: [string, NtfsLayout][] = [
  ['1 KiB records', { sectorBytes: 512, clusterBytes: 4096, manyNames: 40 }],
  ['4 KiB records', { sectorBytes: 4096, clusterBytes: 4096, manyNames: 40 }],
];

for (const [name, layout] of layouts) {
  test(`NTFS with ${name}, streams, hard links and reparse points, damaged: data or a clear error, never a hang`, { skip }, async () => {
    const bytes = await readFile(await makeWindowsImage(await tempDir(), 'fuzz', layout));
    assert.ok((await walk(await NtfsFileSystem.open(new DamagedDisk(bytes, new Map())))) >= 60, 'the undamaged image walks whole');
    const ranges = metadataRanges(bytes);
    assert.ok(ranges.length >= 3, 'the image has index blocks to damage');
    await fc.assert(
      fc.asyncProperty(edits, async (changes) => {
        const damage = new Map<number, number>();
        for (const [which, at, xor] of changes) {
          const range = ranges[which % ranges.length] as { from: number; length: number };
          damage.set(range.from + (at % range.length), xor);
        }
        await survives(bytes, damage);
      }),
      { numRuns: 250 },
    );
  });
}

test('reparse points from random bytes: a link, a named refusal or a clear error', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      fc.constantFrom(0xa000000c, 0xa0000003, 0xa000001d, 0x80000017),
      (bytes, tag) => {
        const value = Buffer.concat([Buffer.alloc(8), Buffer.from(bytes)]);
        value.writeUInt32LE(tag, 0);
        value.writeUInt16LE(Math.min(bytes.length, (bytes[0] ?? 0) * 2), 4);
        try {
          const reparse = parseReparsePoint(value);
          assert.ok(reparse.target !== null || reparse.what.length > 0);
        } catch (error) {
          assert.ok(isReadFailure(error), `unexpected ${(error as Error).message}`);
        }
      },
    ),
    { numRuns: 500 },
  );
});
