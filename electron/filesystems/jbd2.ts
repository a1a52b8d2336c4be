// The ext4 journal (jbd2), read to replay it in memory: an ext4 volume that was not cleanly
// unmounted holds its newest metadata only in the journal. The scan follows the kernel's recovery
// (fs/jbd2/recovery.c): transactions from s_start in sequence order, each complete only with its
// commit block; v2/v3 checksums checked; revoke records cancel older copies of a block. Nothing is
// written: the result is a map of file-system block → the journal block holding its newest copy.
// All journal fields are big-endian.
import type { Disk } from '../disks/disk.ts';
import { LifeboatError } from '../errors.ts';
import { crc32c } from './crc32c.ts';

const JBD2_MAGIC = 0xc03b3998;
const DESCRIPTOR = 1;
const COMMIT = 2;
const SUPERBLOCK_V1 = 3;
const SUPERBLOCK_V2 = 4;
const REVOKE = 5;
const INCOMPAT_REVOKE = 0x1;
const INCOMPAT_64BIT = 0x2;
const INCOMPAT_CSUM_V2 = 0x8;
const INCOMPAT_CSUM_V3 = 0x10;
const INCOMPAT_FAST_COMMIT = 0x20;
const KNOWN_INCOMPAT = INCOMPAT_REVOKE | INCOMPAT_64BIT | 0x4 | INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3 | INCOMPAT_FAST_COMMIT;
const TAG_ESCAPE = 1;
const TAG_SAME_UUID = 2;
const TAG_LAST = 8;
const HEADER = 12;

/** Where the newest committed copy of a file-system block lies in the journal. */
export type JournalCopy = { journalBlock: number; escaped: boolean };
export type JournalReplay = { overlay: Map<number, JournalCopy>; transactions: number; notes: string[] };
/** Reads one journal block by its number inside the journal (the journal inode's block). */
export type JournalReader = (logical: number) => Promise<Buffer>;

const unusable = (why: string): never => {
  throw new LifeboatError('corrupt-disk', `the journal cannot be replayed: ${why}`);
};

/** true when sequence a comes after b, with 32-bit wrap-around (the kernel's tid_gt). */
const after = (a: number, b: number): boolean => ((a - b) | 0) > 0;

type JournalSuperblock = {
  blockSize: number;
  maxLen: number;
  first: number;
  sequence: number;
  start: number;
  incompat: number;
  seed: number;
};

export function parseJournalSuperblock(block: Buffer, journalBlocks: number): JournalSuperblock {
  if (block.length < 1024 || block.readUInt32BE(0) !== JBD2_MAGIC) unusable('no journal superblock');
  const type = block.readUInt32BE(4);
  if (type !== SUPERBLOCK_V1 && type !== SUPERBLOCK_V2) unusable(`journal superblock of type ${type}`);
  const blockSize = block.readUInt32BE(12);
  const maxLen = block.readUInt32BE(16);
  const first = block.readUInt32BE(20);
  const incompat = type === SUPERBLOCK_V2 ? block.readUInt32BE(40) : 0;
  if (blockSize !== block.length) unusable(`journal block size ${blockSize}`);
  if (maxLen < 2 || maxLen > journalBlocks || first < 1 || first >= maxLen) unusable(`journal length ${maxLen}, first block ${first}`);
  if (incompat & ~KNOWN_INCOMPAT) unusable(`unknown journal features 0x${incompat.toString(16)}`);
  if (incompat & (INCOMPAT_CSUM_V2 | INCOMPAT_CSUM_V3)) {
    const copy = Buffer.from(block.subarray(0, 1024));
    copy.writeUInt32BE(0, 0xfc);
    if (crc32c(0xffffffff, copy) !== block.readUInt32BE(0xfc)) unusable('its superblock fails its checksum');
  }
  return {
    blockSize,
    maxLen,
    first,
    sequence: block.readUInt32BE(24),
    start: block.readUInt32BE(28),
    incompat,
    seed: crc32c(0xffffffff, block.subarray(48, 64)),
  };
}

type Tag = { fsBlock: number; flags: number; checksum: number };

class JournalShape {
  readonly sb: JournalSuperblock;
  readonly checksummed: boolean;
  readonly v3: boolean;
  readonly wide: boolean;
  readonly tagBytes: number;
  readonly tailBytes: number;

  constructor(sb: JournalSuperblock) {
    this.sb = sb;
    this.v3 = (sb.incompat & INCOMPAT_CSUM_V3) !== 0;
    this.checksummed = this.v3 || (sb.incompat & INCOMPAT_CSUM_V2) !== 0;
    this.wide = (sb.incompat & INCOMPAT_64BIT) !== 0;
    this.tagBytes = this.v3 ? 16 : 8 + (this.checksummed ? 2 : 0) + (this.wide ? 4 : 0);
    this.tailBytes = this.checksummed ? 4 : 0;
  }

  /** A descriptor or revoke block's tail checksum (the block with its tail zeroed). */
  tailValid(block: Buffer): boolean {
    if (!this.checksummed) return true;
    const copy = Buffer.from(block);
    copy.writeUInt32BE(0, block.length - 4);
    return crc32c(this.sb.seed, copy) === block.readUInt32BE(block.length - 4);
  }

  commitValid(block: Buffer): boolean {
    if (!this.checksummed) return true;
    const copy = Buffer.from(block);
    copy.writeUInt32BE(0, 16);
    return crc32c(this.sb.seed, copy) === block.readUInt32BE(16);
  }

  dataValid(tag: Tag, sequence: number, data: Buffer): boolean {
    if (!this.checksummed) return true;
    const sequenceBytes = Buffer.alloc(4);
    sequenceBytes.writeUInt32BE(sequence >>> 0);
    const sum = crc32c(crc32c(this.sb.seed, sequenceBytes), data);
    return this.v3 ? tag.checksum === sum : tag.checksum === (sum & 0xffff);
  }

  tags(block: Buffer): Tag[] {
    const tags: Tag[] = [];
    for (let at = HEADER; at + this.tagBytes <= block.length - this.tailBytes;) {
      const low = block.readUInt32BE(at);
      const flags = this.v3 ? block.readUInt32BE(at + 4) : block.readUInt16BE(at + 6);
      const high = this.wide ? block.readUInt32BE(at + 8) : 0;
      const checksum = this.v3 ? block.readUInt32BE(at + 12) : this.checksummed ? block.readUInt16BE(at + 4) : 0;
      tags.push({ fsBlock: high * 2 ** 32 + low, flags, checksum });
      at += this.tagBytes + (flags & TAG_SAME_UUID ? 0 : 16);
      if (flags & TAG_LAST) break;
    }
    return tags;
  }

  revoked(block: Buffer): number[] {
    const used = block.readUInt32BE(HEADER);
    const record = this.wide ? 8 : 4;
    if (used < 16 || used > block.length - this.tailBytes) unusable(`a revoke block claims ${used} bytes`);
    const out: number[] = [];
    for (let at = 16; at + record <= used; at += record)
      out.push(this.wide ? block.readUInt32BE(at) * 2 ** 32 + block.readUInt32BE(at + 4) : block.readUInt32BE(at));
    return out;
  }
}

type Pending = { sequence: number; writes: { fsBlock: number; copy: JournalCopy }[]; revokes: number[] };

/** Scans the journal from its start; throws (corrupt-disk) when it cannot be read at all. */
export async function replayJournal(read: JournalReader, journalBlocks: number, fsBlockCount: number): Promise<JournalReplay> {
  const sb = parseJournalSuperblock(await read(0), journalBlocks);
  const notes: string[] = [];
  const overlay = new Map<number, JournalCopy>();
  if (sb.start === 0) return { overlay, transactions: 0, notes };
  if (sb.start < sb.first || sb.start >= sb.maxLen) unusable(`its start block ${sb.start} is outside the log`);
  if (sb.incompat & INCOMPAT_FAST_COMMIT) notes.push('fast-commit records of the journal are not replayed');
  const shape = new JournalShape(sb);
  const next = (block: number): number => (block + 1 >= sb.maxLen ? sb.first : block + 1);
  const committed: Pending[] = [];
  let pending: Pending = { sequence: sb.sequence, writes: [], revokes: [] };
  let position = sb.start;
  let badCopies = 0;
  // Every log block is visited at most once: the log is a ring of maxLen - first blocks.
  for (let visited = 0; visited < sb.maxLen - sb.first; visited++) {
    const block = await read(position);
    if (block.readUInt32BE(0) !== JBD2_MAGIC || block.readUInt32BE(8) !== pending.sequence >>> 0) break;
    const type = block.readUInt32BE(4);
    if (type === DESCRIPTOR) {
      if (!shape.tailValid(block)) {
        notes.push(`transaction ${pending.sequence} has a damaged descriptor block; the journal is replayed up to it`);
        break;
      }
      for (const tag of shape.tags(block)) {
        position = next(position);
        visited++;
        if (tag.fsBlock >= fsBlockCount) unusable(`transaction ${pending.sequence} writes block ${tag.fsBlock}, outside the file system`);
        if (!shape.dataValid(tag, pending.sequence, await read(position))) badCopies++;
        else pending.writes.push({ fsBlock: tag.fsBlock, copy: { journalBlock: position, escaped: (tag.flags & TAG_ESCAPE) !== 0 } });
      }
    } else if (type === REVOKE) {
      if (!shape.tailValid(block)) {
        notes.push(`transaction ${pending.sequence} has a damaged revoke block; the journal is replayed up to it`);
        break;
      }
      pending.revokes.push(...shape.revoked(block));
    } else if (type === COMMIT) {
      if (!shape.commitValid(block)) {
        notes.push(`transaction ${pending.sequence} fails its commit checksum; the journal is replayed up to it`);
        break;
      }
      committed.push(pending);
      pending = { sequence: (pending.sequence + 1) >>> 0, writes: [], revokes: [] };
    } else break;
    position = next(position);
  }
  if (badCopies > 0) notes.push(`${badCopies} journal block(s) failed their checksum and were not replayed; those blocks may be stale`);
  // A block revoked by a transaction is not replayed from that transaction or any older one.
  const revokedAt = new Map<number, number>();
  for (const transaction of committed) {
    for (const block of transaction.revokes) {
      const known = revokedAt.get(block);
      if (known === undefined || after(transaction.sequence, known)) revokedAt.set(block, transaction.sequence);
    }
  }
  for (const transaction of committed) {
    for (const write of transaction.writes) {
      const revoked = revokedAt.get(write.fsBlock);
      if (revoked !== undefined && !after(transaction.sequence, revoked)) continue;
      overlay.set(write.fsBlock, write.copy);
    }
  }
  return { overlay, transactions: committed.length, notes };
}

/** The journal copy's bytes as the file system block: an escaped copy gets its magic back. */
export function unescape(bytes: Buffer, copy: JournalCopy): Buffer {
  if (copy.escaped) bytes.writeUInt32BE(JBD2_MAGIC, 0);
  return bytes;
}

/** The volume as of its journal: reads of replayed blocks come from the journal, the rest from
 * the volume. The volume itself is never written. */
export class JournalOverlayDisk implements Disk {
  readonly capacity: number;
  readonly description: string;
  private readonly base: Disk;
  private readonly blockSize: number;
  private readonly replay: JournalReplay;
  private readonly readJournal: JournalReader;

  constructor(base: Disk, blockSize: number, replay: JournalReplay, readJournal: JournalReader) {
    this.base = base;
    this.capacity = base.capacity;
    this.description = `${base.description} (journal replayed in memory)`;
    this.blockSize = blockSize;
    this.replay = replay;
    this.readJournal = readJournal;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    const bytes = await this.base.read(offset, length);
    const first = Math.floor(offset / this.blockSize);
    const last = Math.floor((offset + length - 1) / this.blockSize);
    for (let block = first; length > 0 && block <= last; block++) {
      const copy = this.replay.overlay.get(block);
      if (!copy) continue;
      const replayed = unescape(await this.readJournal(copy.journalBlock), copy);
      const blockStart = block * this.blockSize;
      const from = Math.max(offset, blockStart);
      const to = Math.min(offset + length, blockStart + this.blockSize);
      replayed.copy(bytes, from - offset, from - blockStart, to - blockStart);
    }
    return bytes;
  }

  close(): Promise<void> {
    return this.base.close();
  }
}
