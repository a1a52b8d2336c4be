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

/** Object ids and offsets are exact u64s: the special ids (ORPHAN = -5, TREE_RELOC = -8,
 * DATA_RELOC_TREE = -9 … as u64) sit near 2^64, where a JS number cannot tell them apart. */
export type Key = { objectid: bigint; type: number; offset: bigint };
export type Item = { key: Key; data: Buffer };
export type TreeRoot = { bytenr: number; level: number; generation?: number };

type Block = {
  level: number;
  keys: Key[];
  /** Leaf: each item's data. Node: unused. */
  data: Buffer[];
  /** Node: children. */
  children: TreeRoot[];
  used: boolean;
};

export const MAX_KEY_PART = 2n ** 64n - 1n;

const order = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

export function compareKeys(a: Key, b: Key): number {
  return order(a.objectid, b.objectid) || a.type - b.type || order(a.offset, b.offset);
}

export function readKey(bytes: Buffer, at: number): Key {
  return { objectid: bytes.readBigUInt64LE(at), type: bytes[at + 8] as number, offset: bytes.readBigUInt64LE(at + 9) };
}

/** A key part used as an id, address or size, where btrfs keeps it below 2^53; above is damage. */
export function keyNumber(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) bad(`${what} is ${value}, beyond what btrfs writes`);
  return Number(value);
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
    if (!checksumMatches(this.sb.checksum, bytes)) return 'fails its checksum';
    if (u64(bytes, 0x30) !== at.bytenr) return 'names another address as its own';
    if (!bytes.subarray(0x20, 0x30).equals(this.sb.metadataUuid)) return 'belongs to another file system';
    if (bytes[0x64] !== at.level) return `is at level ${bytes[0x64]}, not ${at.level}`;
    if (at.generation !== undefined && u64(bytes, 0x50) !== at.generation) return 'is not the generation its parent names';
    return null;
  }

  /** A block from the cache, else read and checked. The cache is a clock: a hit only marks the
   * block used; when full, the oldest unused block goes and used ones get a second chance. */
  private block(at: TreeRoot): Block | Promise<Block> {
    const cached = this.cache.get(at.bytenr);
    if (cached && cached.level === at.level) {
      cached.used = true;
      return cached;
    }
    return this.load(at);
  }

  private evict(): void {
    for (let turns = 0; this.cache.size >= CACHE_BLOCKS && turns < 2 * CACHE_BLOCKS; turns++) {
      const [bytenr, oldest] = this.cache.entries().next().value as [number, Block];
      this.cache.delete(bytenr);
      if (oldest.used) {
        oldest.used = false;
        this.cache.set(bytenr, oldest);
      }
    }
  }

  private async load(at: TreeRoot): Promise<Block> {
    if (at.level > MAX_LEVEL) bad(`tree block at ${at.bytenr} claims level ${at.level}`);
    const bytes = await this.volume.readChecked(at.bytenr, this.sb.nodeSize, (candidate) => this.problemOf(candidate, at));
    const block = this.parse(bytes, at);
    this.evict();
    this.cache.set(at.bytenr, block);
    return block;
  }

  private parse(bytes: Buffer, at: TreeRoot): Block {
    const count = bytes.readUInt32LE(0x60);
    const level = at.level;
    const size = level === 0 ? LEAF_ITEM : NODE_PTR;
    if (HEADER + count * size > bytes.length) bad(`tree block at ${at.bytenr} claims ${count} items`);
    if (count === 0 && level > 0) bad(`tree node at ${at.bytenr} is empty`);
    const block: Block = { level, keys: [], data: [], children: [], used: false };
    for (let i = 0; i < count; i++) {
      const entry = HEADER + i * size;
      const key = readKey(bytes, entry);
      if (i > 0 && compareKeys(block.keys[i - 1] as Key, key) >= 0) bad(`tree block at ${at.bytenr} has keys out of order`);
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

  /** The items with keys from `min` to `max` (inclusive), in key order, a leaf at a time: from the
   * leaf that holds `min`, then leaf after leaf through the parents kept on a path. */
  async *leaves(root: TreeRoot, min: Key, max: Key): AsyncGenerator<Item[]> {
    const path: { block: Block; index: number }[] = [];
    let block = await this.block(root);
    while (block.level > 0) {
      const index = this.childFor(block.keys, min);
      path.push({ block, index });
      block = await this.child(block, index);
    }
    let last: Key | undefined;
    for (;;) {
      const items: Item[] = [];
      const { keys } = block;
      // Leaf after leaf, keys only grow: a damaged node cannot send the walk round again.
      if (last !== undefined && (keys[0] === undefined || compareKeys(keys[0], last) <= 0)) bad('tree leaves out of order');
      last = keys.at(-1) ?? last;
      let i = this.firstAtLeast(keys, min);
      for (; i < keys.length && compareKeys(keys[i] as Key, max) <= 0; i++)
        items.push({ key: keys[i] as Key, data: block.data[i] as Buffer });
      if (items.length > 0) yield items;
      if (i < keys.length) return;
      // The next leaf: up to the nearest parent with a next child, then down its first children.
      let level = path.length - 1;
      while (level >= 0 && (path[level] as { index: number }).index + 1 >= (path[level] as { block: Block }).block.keys.length) level--;
      if (level < 0) return;
      const step = path[level] as { block: Block; index: number };
      step.index++;
      if (compareKeys(step.block.keys[step.index] as Key, max) > 0) return;
      path.length = level + 1;
      block = await this.child(step.block, step.index);
      while (block.level > 0) {
        path.push({ block, index: 0 });
        block = await this.child(block, 0);
      }
    }
  }

  /** The same, an item at a time. */
  async *items(root: TreeRoot, min: Key, max: Key): AsyncGenerator<Item> {
    for await (const leaf of this.leaves(root, min, max)) yield* leaf;
  }

  /** The one item with exactly this key, or null: one walk from the root, no scan. */
  async find(root: TreeRoot, key: Key): Promise<Buffer | null> {
    let block = await this.block(root);
    while (block.level > 0) block = await this.child(block, this.childFor(block.keys, key));
    const i = this.firstAtLeast(block.keys, key);
    return i < block.keys.length && compareKeys(block.keys[i] as Key, key) === 0 ? (block.data[i] as Buffer) : null;
  }

  /** The first item at or after `min` and not after `max`, or null. */
  async first(root: TreeRoot, min: Key, max: Key): Promise<Item | null> {
    for await (const leaf of this.leaves(root, min, max)) return leaf[0] ?? null;
    return null;
  }

  /** A node's child, which must start with the key its parent files it under (as the kernel
   * checks): so no block can stand twice in one tree, and a walk ends. */
  private async child(node: Block, index: number): Promise<Block> {
    const child = await this.block(node.children[index] as TreeRoot);
    const first = child.keys[0];
    if (first === undefined || compareKeys(first, node.keys[index] as Key) !== 0)
      bad(`tree block at ${(node.children[index] as TreeRoot).bytenr} does not start where its parent says`);
    return child;
  }

  /** The child of a node that holds `key`: the last whose first key is not above it. */
  private childFor(keys: Key[], key: Key): number {
    const i = this.firstAtLeast(keys, key);
    if (i < keys.length && compareKeys(keys[i] as Key, key) === 0) return i;
    return Math.max(0, i - 1);
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
