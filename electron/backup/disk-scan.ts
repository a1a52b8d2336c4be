// One disk's pass of a backup: which blocks changed since the parent point, and where they are
// stored. What the source says reads as zeros is a hole without being read; the rest is read in
// large sequential pieces, several in flight, each scanned by a worker (zero test, fast hash, and
// SHA-256 only where the fast hash differs from the parent's sidecar). With a mask of changed
// blocks (the hypervisor's changed block tracking) the blocks it calls unchanged are not read at
// all: the parent's map already holds them, and their fast hashes are the parent's. With no parent
// map (a full point, a disk new to the chain) each piece is scanned and stored in one worker message.
import type { Disk } from '../disks/disk.ts';
import { BlockKind, RECORD_BYTES, type BlockRecord } from '../repository/block-map.ts';
import type { ResolvedDisk } from '../repository/chain.ts';
import { FAST_HASH_BYTES, hashesOf, newFastHashFile } from '../repository/fast-hash-map.ts';
import { forEachWindowed, throwIfCancelled } from '../jobs/plan.ts';
import type { ScanBlocksResult, Stage } from '../workers/messages.ts';
import { ownedCopy, type WorkerPool } from '../workers/pool.ts';
import type { BackupStats, BlockStore, StoredBlock } from './block-store.ts';
import { BusyMeter } from './busy-meter.ts';
import { PieceBuffers } from './piece-buffers.ts';

/** Bytes read at once: sequential, few worker messages. Measured: 2 MiB reads cost less CPU than
 * 8 MiB ones (each fresh large buffer is page-faulted in), and no more than 1 MiB ones. */
const PIECE_BYTES = 2 * 1024 * 1024;
/** Pieces read or in workers at once (16 MiB): the disk stays busy while both workers hash. */
const PIECES_IN_FLIGHT = 8;
/** Extents are asked for in windows of this much, so a fragmented disk's list stays small. */
const EXTENT_WINDOW = 1024 * 1024 * 1024;

export type DiskScan = {
  disk: Disk;
  blockSize: number;
  blockCount: number;
  /** The parent point's merged map of this disk (null: a full point, or a disk new to the chain). */
  previous: ResolvedDisk | null;
  /** The parent's fast hashes of this disk, 16 bytes a block (null: none usable). */
  parentFastHashes: Uint8Array | null;
  store: BlockStore;
  pool: WorkerPool;
  stats: BackupStats;
  signal: AbortSignal;
  /** Bytes of the disk examined so far, holes and unchanged blocks included. */
  progress: (bytesDone: number) => void;
  /** One byte a block, 0 = unchanged since the parent point (not read, no record); null or
   * absent: every block is read. Used only with `previous` and `parentFastHashes` of this disk's
   * size; otherwise ignored, and the result says why. */
  onlyBlocks?: Uint8Array | null;
  /** Seconds the reads and the workers were busy, per stage. */
  busy?: (stage: Stage, seconds: number) => void;
};

export type DiskScanResult = {
  records: BlockRecord[];
  fastHashFile: Buffer;
  /** Blocks the mask kept from the parent without reading them. */
  unchangedBlocks: number;
  /** Why `onlyBlocks` was given but every block was read (null: it was used, or not given). */
  maskIgnored: string | null;
};

/** Blocks the source says read as zeros, wholly (null: the source cannot say). */
async function knownZeroBlocks(disk: Disk, blockSize: number, blockCount: number): Promise<Uint8Array | null> {
  if (!disk.extents) return null;
  const zero = new Uint8Array(blockCount);
  for (let window = 0; window < disk.capacity; window += EXTENT_WINDOW) {
    for (const extent of await disk.extents(window, Math.min(EXTENT_WINDOW, disk.capacity - window))) {
      if (extent.state !== 'zero') continue;
      const end = extent.offset + extent.length;
      // A zero run cut by a window edge leaves its edge block to be read: correct, just not skipped.
      const first = Math.ceil(extent.offset / blockSize);
      const last = end === disk.capacity ? blockCount : Math.floor(end / blockSize);
      if (last > first) zero.fill(1, first, last);
    }
  }
  return zero;
}

function isDataIn(map: Uint8Array, index: number): boolean {
  return map[index * RECORD_BYTES + 4] === BlockKind.data;
}

function sameSha256(map: Uint8Array, index: number, sha256: Uint8Array): boolean {
  const at = index * RECORD_BYTES + 28;
  return Buffer.from(map.buffer, map.byteOffset + at, 32).equals(sha256);
}

/** The mask with the parent's fast hashes it copies, or why it cannot be used. A block it skips
 * must be one the parent point holds for this disk, with a fast hash to carry on: the mask only
 * narrows reading, never invents data. */
function usableMask(scan: DiskScan, onlyBlocks: Uint8Array): { onlyBlocks: Uint8Array; parentFastHashes: Uint8Array } | string {
  const { previous, parentFastHashes, blockCount } = scan;
  if (onlyBlocks.length !== blockCount) return `the changed-block mask has ${onlyBlocks.length} blocks, the disk ${blockCount}`;
  if (!previous) return 'the parent point does not hold this disk';
  if (previous.capacity !== scan.disk.capacity || previous.blockCount !== blockCount) return 'the disk changed size since the parent point';
  if (parentFastHashes?.length !== blockCount * FAST_HASH_BYTES) return 'the parent point has no usable fast hashes for this disk';
  return { onlyBlocks, parentFastHashes };
}

/** The changed blocks' records (holes that were data included) and the disk's new sidecar. */
export async function scanDisk(scan: DiskScan): Promise<DiskScanResult> {
  const { disk, blockSize, blockCount, previous, stats } = scan;
  const fastHashFile = newFastHashFile(blockSize, blockCount);
  const fastHashes = hashesOf(fastHashFile);
  const usable = scan.onlyBlocks ? usableMask(scan, scan.onlyBlocks) : null;
  const mask = typeof usable === 'string' ? null : usable;
  const records: BlockRecord[] = [];
  const lengthOf = (index: number): number => Math.min(blockSize, disk.capacity - index * blockSize);
  const zeroBlock = (index: number, length: number): void => {
    stats.scannedBytes += length;
    // A full point leaves holes implicit; an incremental must say a block became empty.
    if (previous && !isDataIn(previous.map, index)) return;
    stats.changedBytes += length;
    if (previous)
      records.push({
        index,
        kind: BlockKind.hole,
        codec: 0,
        dataFile: 0,
        offset: 0,
        storedLength: 0,
        rawLength: 0,
        sha256: new Uint8Array(32),
      });
  };

  const knownZero = await knownZeroBlocks(disk, blockSize, blockCount);
  const blocksPerPiece = Math.max(1, Math.floor(PIECE_BYTES / blockSize));
  const pieces: { first: number; count: number }[] = [];
  let piece: { first: number; count: number } | null = null;
  let unreadBytes = 0;
  let unchangedBlocks = 0;
  for (let index = 0; index < blockCount; index++) {
    if (mask?.onlyBlocks[index] === 0) {
      const at = index * FAST_HASH_BYTES;
      fastHashes.set(mask.parentFastHashes.subarray(at, at + FAST_HASH_BYTES), at);
      unchangedBlocks++;
      unreadBytes += lengthOf(index);
      piece = null;
      continue;
    }
    if (knownZero?.[index]) {
      zeroBlock(index, lengthOf(index));
      unreadBytes += lengthOf(index);
      piece = null;
      continue;
    }
    if (!piece || piece.count === blocksPerPiece) pieces.push((piece = { first: index, count: 0 }));
    piece.count++;
  }
  let done = unreadBytes;
  scan.progress(done);

  /** The parent's fast hashes of a piece, zeroed where the parent holds no data (so its SHA-256 is taken). */
  const parentHashesOf = (first: number, count: number): Uint8Array | null => {
    if (!scan.parentFastHashes || !previous) return null;
    // A copy of its own: it moves to the worker.
    const hashes = new Uint8Array(scan.parentFastHashes.subarray(first * FAST_HASH_BYTES, (first + count) * FAST_HASH_BYTES));
    for (let i = 0; i < count; i++) if (!isDataIn(previous.map, first + i)) hashes.fill(0, i * FAST_HASH_BYTES, (i + 1) * FAST_HASH_BYTES);
    return hashes;
  };

  const reading = new BusyMeter();
  const buffers = new PieceBuffers(blocksPerPiece * blockSize);
  const readPiece = async (offset: number, length: number): Promise<Uint8Array> => {
    if (!disk.readInto) return ownedCopy(await disk.read(offset, length));
    const target = buffers.take();
    await disk.readInto(target, offset, length);
    return target.subarray(0, length); // it moves whole: a short last piece is a view of its start
  };
  const busy = scan.busy ?? ((): void => undefined);
  /** A piece's blocks as stored: its records, with this block's index and kind last (`where` may
   * be an earlier point's block, by dedup). */
  const record = (index: number, where: StoredBlock): void => {
    stats.changedBytes += lengthOf(index);
    records.push({ ...where, index, kind: BlockKind.data });
  };

  /** A full point's piece: scanned and stored in one worker message. */
  const packPiece = async (first: number, data: Uint8Array): Promise<void> => {
    const { piece, stored } = await scan.store.storePiece(data, blockSize, scan.signal, busy);
    buffers.give(piece.data);
    fastHashes.set(piece.fastHashes, first * FAST_HASH_BYTES);
    stored.forEach((where, i) => {
      if (!where) return zeroBlock(first + i, lengthOf(first + i));
      stats.scannedBytes += lengthOf(first + i);
      record(first + i, where);
    });
  };

  /** A piece compared with the parent: scanned first, only its changed blocks stored. */
  const comparePiece = async (first: number, count: number, data: Uint8Array): Promise<void> => {
    const parentFastHashes = parentHashesOf(first, count);
    const transfer = [data.buffer, ...(parentFastHashes ? [parentFastHashes.buffer] : [])] as ArrayBuffer[];
    const result = await scan.pool.run<ScanBlocksResult>({ type: 'scan-blocks', data, blockSize, parentFastHashes }, transfer);
    busy('hash', result.busyMs / 1000);
    fastHashes.set(result.fastHashes, first * FAST_HASH_BYTES);
    const changed: { index: number; sha256: Uint8Array }[] = [];
    for (let i = 0; i < count; i++) {
      const index = first + i;
      if (result.zero[i]) {
        zeroBlock(index, lengthOf(index));
        continue;
      }
      stats.scannedBytes += lengthOf(index);
      if (!result.hashed[i]) continue; // its fast hash is the parent's: unchanged
      const sha256 = result.sha256.slice(i * 32, (i + 1) * 32);
      if (previous && isDataIn(previous.map, index) && sameSha256(previous.map, index, sha256)) continue;
      changed.push({ index: i, sha256 });
    }
    if (changed.length === 0) return buffers.give(result.data);
    const stored = await scan.store.store(result.data, blockSize, changed, scan.signal, busy);
    stored.forEach((where, k) => record(first + (changed[k] as { index: number }).index, where));
  };

  await forEachWindowed(pieces.length, PIECES_IN_FLIGHT, async (n) => {
    throwIfCancelled(scan.signal);
    const { first, count } = pieces[n] as { first: number; count: number };
    const offset = first * blockSize;
    const length = Math.min(count * blockSize, disk.capacity - offset);
    const data = await reading.during(() => readPiece(offset, length));
    await (previous ? comparePiece(first, count, data) : packPiece(first, data));
    done += length;
    scan.progress(done);
  });
  busy('source read', reading.take());
  return { records, fastHashFile, unchangedBlocks, maskIgnored: typeof usable === 'string' ? usable : null };
}
