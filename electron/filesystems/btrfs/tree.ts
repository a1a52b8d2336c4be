// btrfs B-trees. Every tree block (nodesize bytes at a logical address) starts with a 101-byte header:
//   0x00 csum[32] over the rest   0x20 fsid[16]   0x30 bytenr (its own address)   0x38 flags
//   0x40 chunk_tree_uuid[16]   0x50 generation   0x58 owner   0x60 nritems u32   0x64 level u8
// A leaf (level 0) holds nritems × (key 17 bytes, data offset u32, data size u32) after the header,
// the data counted from the header's end; a node holds nritems × (key, blockptr u64, generation u64).
// A key is (objectid u64, type u8, offset u64), sorted in that order. A child is one level below
// its parent and no newer than the parent says; a block that fails any check is read from its mirror.
import { bad, checksumMatches, u64, type BtrfsSuperblock } from './superblock.ts';
import type { LogicalVolume } from './devices.ts';

const HEADER = 101;
const LEAF_ITEM = 25;
const NODE_PTR = 33;
export const MAX_LEVEL = 7;
const CACHE_BLOCKS = 1024;

export type Key = { objectid: number; type: number; offset: number };
export type Item = { key: Key; data: Buffer };
export type TreeRoot = { bytenr: number; level: number; generation?: number };

type Block = {
  level: number;
  keys: Key[];
  /** Leaf: each item's data. Node: unused. */
  data: Buffer[];
  /** Node: children. */
  children: TreeRoot[];
};

export const MAX_KEY_PART = 2 ** 64;

export function compareKeys(a: Key, b: Key): number {
  return a.objectid - b.objectid || a.type - b.type || a.offset - b.offset;
}

export function readKey(bytes: Buffer, at: number): Key {
  return { objectid: u64(bytes, at), type: bytes[at + 8] as number, offset: u64(bytes, at + 9) };
}

export class TreeReader {
  private readonly sb: BtrfsSuperblock;
  private readonly volume: LogicalVolume;
  private readonly cache = new Map<number, Block>();

  constructor(sb: BtrfsSuperblock, volume: LogicalVolume) {
    this.sb = sb;
    this.volume = volume;
  }

  private problemOf(bytes: Buffer, at: TreeRoot): string | null {
    if (!checksumMatches(this.sb.checksum, bytes)) return 'it fails its checksum';
    if (u64(bytes, 0x30) !== at.bytenr) return 'it names another address as its own';
    if (!bytes.subarray(0x20, 0x30).equals(this.sb.metadataUuid)) return 'it belongs to another file system';
    if (bytes[0x64] !== at.level) return `it is at level ${bytes[0x64]}, not ${at.level}`;
    if (at.generation !== undefined && u64(bytes, 0x50) !== at.generation) return 'it is not the generation its parent names';
    return null;
  }

  private async block(at: TreeRoot): Promise<Block> {
    const cached = this.cache.get(at.bytenr);
    if (cached && cached.level === at.level) {
      this.cache.delete(at.bytenr);
      this.cache.set(at.bytenr, cached);
      return cached;
    }
    if (at.level > MAX_LEVEL) bad(`tree block at ${at.bytenr} claims level ${at.level}`);
    const bytes = await this.volume.readChecked(at.bytenr, this.sb.nodeSize, (candidate) => this.problemOf(candidate, at));
    const block = this.parse(bytes, at);
    this.cache.set(at.bytenr, block);
    if (this.cache.size > CACHE_BLOCKS) this.cache.delete(this.cache.keys().next().value as number);
    return block;
  }

  private parse(bytes: Buffer, at: TreeRoot): Block {
    const count = bytes.readUInt32LE(0x60);
    const level = at.level;
    const size = level === 0 ? LEAF_ITEM : NODE_PTR;
    if (HEADER + count * size > bytes.length) bad(`tree block at ${at.bytenr} claims ${count} items`);
    const block: Block = { level, keys: [], data: [], children: [] };
    for (let i = 0; i < count; i++) {
      const entry = HEADER + i * size;
      const key = readKey(bytes, entry);
      if (i > 0 && compareKeys(block.keys[i - 1] as Key, key) > 0) bad(`tree block at ${at.bytenr} has keys out of order`);
      block.keys.push(key);
      if (level === 0) {
        const offset = bytes.readUInt32LE(entry + 17);
        const length = bytes.readUInt32LE(entry + 21);
        if (HEADER + offset + length > bytes.length) bad(`tree block at ${at.bytenr} has an item outside it`);
        block.data.push(bytes.subarray(HEADER + offset, HEADER + offset + length));
      } else {
        block.children.push({ bytenr: u64(bytes, entry + 17), level: level - 1, generation: u64(bytes, entry + 25) });
      }
    }
    return block;
  }

  /** The items with keys from `min` to `max` (inclusive), in key order. */
  async *items(root: TreeRoot, min: Key, max: Key): AsyncGenerator<Item> {
    const block = await this.block(root);
    const { keys } = block;
    if (block.level === 0) {
      for (let i = this.firstAtLeast(keys, min); i < keys.length && compareKeys(keys[i] as Key, max) <= 0; i++)
        yield { key: keys[i] as Key, data: block.data[i] as Buffer };
      return;
    }
    // The child holding `min` is the last whose first key is not above it.
    let i = Math.max(0, this.firstAtLeast(keys, min) - 1);
    if (i + 1 < keys.length && compareKeys(keys[i + 1] as Key, min) <= 0) i++;
    for (; i < keys.length && compareKeys(keys[i] as Key, max) <= 0; i++) yield* this.items(block.children[i] as TreeRoot, min, max);
  }

  /** The one item with exactly this key, or null. */
  async find(root: TreeRoot, key: Key): Promise<Buffer | null> {
    for await (const item of this.items(root, key, key)) return item.data;
    return null;
  }

  /** The first item at or after `min` and not after `max`, or null. */
  async first(root: TreeRoot, min: Key, max: Key): Promise<Item | null> {
    for await (const item of this.items(root, min, max)) return item;
    return null;
  }

  private firstAtLeast(keys: Key[], wanted: Key): number {
    let low = 0;
    let high = keys.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (compareKeys(keys[middle] as Key, wanted) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
