// btrfs chunks: the map from logical addresses (what every tree pointer and file extent names) to
// places on the members. A chunk item (key CHUNK_ITEM 228, offset = its logical start) is
//   length u64, owner u64, stripe_len u64, type u64, io_align u32, io_width u32, sector_size u32,
//   num_stripes u16, sub_stripes u16 (48 bytes), then num_stripes × (devid u64, offset u64, dev_uuid[16]).
// The type's profile bits say how the stripes hold the bytes: none (SINGLE) one copy; DUP, RAID1,
// RAID1C3, RAID1C4 a whole copy on every stripe; RAID0 stripe_len units dealt round the stripes;
// RAID10 the same over groups of sub_stripes mirrors. RAID5/6 are refused by name.
import { LifeboatError } from '../../errors.ts';
import { bad, u64 } from './superblock.ts';

export const CHUNK_ITEM_SIZE = 48;
const STRIPE_SIZE = 32;
const MAX_STRIPES = 256;

const PROFILE = {
  raid0: 1 << 3,
  raid1: 1 << 4,
  dup: 1 << 5,
  raid10: 1 << 6,
  raid5: 1 << 7,
  raid6: 1 << 8,
  raid1c3: 1 << 9,
  raid1c4: 1 << 10,
};
const MIRRORED = PROFILE.raid1 | PROFILE.dup | PROFILE.raid1c3 | PROFILE.raid1c4;

export type Stripe = { devid: number; offset: number };
export type Chunk = { logical: number; length: number; type: number; stripeLength: number; subStripes: number; stripes: Stripe[] };
/** One place a range of logical bytes is kept. */
export type Copy = { devid: number; physical: number };
/** A run of logical bytes within one stripe unit, and every copy of it. */
export type Piece = { logical: number; length: number; copies: Copy[] };

export function profileName(type: number): string {
  if (type & PROFILE.raid5) return 'RAID5';
  if (type & PROFILE.raid6) return 'RAID6';
  if (type & PROFILE.raid10) return 'RAID10';
  if (type & PROFILE.raid0) return 'RAID0';
  if (type & PROFILE.raid1c4) return 'RAID1C4';
  if (type & PROFILE.raid1c3) return 'RAID1C3';
  if (type & PROFILE.raid1) return 'RAID1';
  if (type & PROFILE.dup) return 'DUP';
  return 'single';
}

/** The chunk item at `at`, and how many bytes it takes. */
export function parseChunk(bytes: Buffer, at: number, logical: number): { chunk: Chunk; size: number } {
  if (at + CHUNK_ITEM_SIZE > bytes.length) bad(`chunk item at ${logical} is cut short`);
  const length = u64(bytes, at);
  const stripeLength = u64(bytes, at + 16);
  const type = u64(bytes, at + 24);
  const count = bytes.readUInt16LE(at + 44);
  const subStripes = bytes.readUInt16LE(at + 46);
  const size = CHUNK_ITEM_SIZE + count * STRIPE_SIZE;
  if (count < 1 || count > MAX_STRIPES || at + size > bytes.length) bad(`chunk at ${logical} has ${count} stripes`);
  if (length < 1 || logical + length > Number.MAX_SAFE_INTEGER) bad(`chunk at ${logical} has length ${length}`);
  if (stripeLength < 4096 || stripeLength > 2 ** 30 || (stripeLength & (stripeLength - 1)) !== 0)
    bad(`chunk at ${logical} has stripe length ${stripeLength}`);
  if (type & PROFILE.raid10 && (subStripes < 2 || count % subStripes !== 0))
    bad(`RAID10 chunk at ${logical} has ${subStripes} sub-stripes`);
  const stripes: Stripe[] = [];
  for (let i = 0; i < count; i++) {
    const stripe = at + CHUNK_ITEM_SIZE + i * STRIPE_SIZE;
    stripes.push({ devid: u64(bytes, stripe), offset: u64(bytes, stripe + 8) });
  }
  return { chunk: { logical, length, type, stripeLength, subStripes, stripes }, size };
}

export class ChunkMap {
  private readonly chunks: Chunk[] = [];
  private sorted = true;

  get size(): number {
    return this.chunks.length;
  }

  /** Chunks come in key order from the chunk tree; anything else is sorted once, at the next lookup. */
  add(chunk: Chunk): void {
    const last = this.chunks.at(-1);
    if (last !== undefined && last.logical >= chunk.logical) this.sorted = false;
    this.chunks.push(chunk);
  }

  /** Every member a chunk has bytes on. */
  devices(): Set<number> {
    return new Set(this.chunks.flatMap((chunk) => chunk.stripes.map((stripe) => stripe.devid)));
  }

  private find(logical: number): Chunk {
    if (!this.sorted) {
      this.chunks.sort((a, b) => a.logical - b.logical);
      this.sorted = true;
    }
    let low = 0;
    let high = this.chunks.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const chunk = this.chunks[middle] as Chunk;
      if (logical < chunk.logical) high = middle - 1;
      else if (logical >= chunk.logical + chunk.length) low = middle + 1;
      else return chunk;
    }
    return bad(`logical address ${logical} is in no chunk`);
  }

  /** The logical range cut where stripe units end, each piece with all its copies. */
  pieces(logical: number, length: number): Piece[] {
    if (!Number.isSafeInteger(logical) || !Number.isSafeInteger(length) || logical < 0 || length < 0)
      bad(`logical range ${logical}+${length}`);
    const out: Piece[] = [];
    for (let at = logical; at < logical + length;) {
      const chunk = this.find(at);
      const piece = this.piece(chunk, at, Math.min(logical + length, chunk.logical + chunk.length) - at);
      out.push(piece);
      at += piece.length;
    }
    return out;
  }

  private piece(chunk: Chunk, logical: number, most: number): Piece {
    const { type, stripes, stripeLength } = chunk;
    const offset = logical - chunk.logical;
    if (type & (PROFILE.raid5 | PROFILE.raid6)) throw new LifeboatError('unavailable', `btrfs ${profileName(type)} chunk: not read`);
    if (type & MIRRORED || (type & (PROFILE.raid0 | PROFILE.raid10)) === 0) {
      const copies = (type & MIRRORED ? stripes : stripes.slice(0, 1)).map((stripe) => ({
        devid: stripe.devid,
        physical: stripe.offset + offset,
      }));
      return { logical, length: most, copies };
    }
    const unit = Math.floor(offset / stripeLength);
    const within = offset % stripeLength;
    const length = Math.min(most, stripeLength - within);
    const groupSize = type & PROFILE.raid10 ? chunk.subStripes : 1;
    const groups = stripes.length / groupSize;
    const first = (unit % groups) * groupSize;
    const row = Math.floor(unit / groups);
    const copies = stripes
      .slice(first, first + groupSize)
      .map((stripe) => ({ devid: stripe.devid, physical: stripe.offset + row * stripeLength + within }));
    return { logical, length, copies };
  }
}

/** The chunks the superblock carries, which map the chunk tree. */
export function parseSysChunkArray(array: Buffer): ChunkMap {
  const map = new ChunkMap();
  for (let at = 0; at < array.length;) {
    if (at + 17 > array.length) bad('the system chunk array is cut short');
    if (array[at + 8] !== 228) bad('the system chunk array holds something other than a chunk');
    const { chunk, size } = parseChunk(array, at + 17, u64(array, at + 9));
    map.add(chunk);
    at += 17 + size;
  }
  if (map.size === 0) bad('the system chunk array is empty');
  return map;
}
