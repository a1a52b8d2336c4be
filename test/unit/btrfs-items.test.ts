// btrfs key order and inode sizes at the top of the u64 range. The special object ids btrfs files
// in the root tree (ORPHAN = -5, TREE_RELOC = -8, DATA_RELOC_TREE = -9 … as u64) lie above 2^53,
// where JS numbers round them all to 2^64: keys must still sort exactly as the kernel sorts them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LifeboatError } from '../../electron/errors.ts';
import { parseInodeItem } from '../../electron/filesystems/btrfs/items.ts';
import { compareKeys, keyNumber, readKey, type Key } from '../../electron/filesystems/btrfs/tree.ts';

const U64 = 2n ** 64n;
const special = (negative: bigint): bigint => U64 + negative;
const ORPHAN = special(-5n);
const TREE_RELOC = special(-8n);
const DATA_RELOC_TREE = special(-9n);
const ROOT_ITEM = 132;
const ORPHAN_ITEM = 48;

const keyBytes = (key: Key): Buffer => {
  const bytes = Buffer.alloc(17);
  bytes.writeBigUInt64LE(key.objectid, 0);
  bytes[8] = key.type;
  bytes.writeBigUInt64LE(key.offset, 9);
  return bytes;
};

test('btrfs keys near 2^64 sort by their exact object id, then type, then offset', () => {
  // The root tree after a subvolume deletion not yet cleaned up, in the kernel's order.
  const sorted: Key[] = [
    { objectid: 5n, type: ROOT_ITEM, offset: 0n },
    { objectid: 2n ** 53n, type: ROOT_ITEM, offset: 0n },
    { objectid: 2n ** 53n + 1n, type: 1, offset: 0n },
    { objectid: ORPHAN - 1n, type: 200, offset: U64 - 1n },
    { objectid: ORPHAN, type: ORPHAN_ITEM, offset: 257n },
    { objectid: ORPHAN, type: ORPHAN_ITEM, offset: 258n },
    { objectid: ORPHAN, type: ORPHAN_ITEM, offset: U64 - 2n },
    { objectid: ORPHAN, type: ORPHAN_ITEM, offset: U64 - 1n },
    { objectid: ORPHAN, type: ROOT_ITEM, offset: 0n },
    { objectid: U64 - 1n, type: 0, offset: 0n },
  ];
  // DATA_RELOC_TREE ROOT_ITEM then ORPHAN ORPHAN_ITEM: once refused as out of order.
  assert.ok(
    compareKeys({ objectid: DATA_RELOC_TREE, type: ROOT_ITEM, offset: 0n }, { objectid: ORPHAN, type: ORPHAN_ITEM, offset: 257n }) < 0,
  );
  assert.ok(
    compareKeys({ objectid: TREE_RELOC, type: ROOT_ITEM, offset: 0n }, { objectid: DATA_RELOC_TREE, type: ROOT_ITEM, offset: 0n }) > 0,
  );
  for (const [i, a] of sorted.entries())
    for (const [j, b] of sorted.entries()) {
      const order = Math.sign(compareKeys(a, b));
      assert.equal(order, Math.sign(i - j), `key ${i} against key ${j}`);
    }
  // Read from disk bytes, the same keys keep their exact values.
  for (const key of sorted) assert.deepEqual(readKey(keyBytes(key), 0), key);
});

test('btrfs key parts used as numbers: exact below 2^53, damage above', () => {
  assert.equal(keyNumber(2n ** 53n - 1n, 'an inode'), Number.MAX_SAFE_INTEGER);
  assert.throws(
    () => keyNumber(ORPHAN, 'where x points'),
    (error: unknown) =>
      error instanceof LifeboatError && error.code === 'corrupt-disk' && /where x points is 18446744073709551611/.test(error.message),
  );
});

test('btrfs inode sizes past 2^53 are refused as damage naming the inode', () => {
  const inode = Buffer.alloc(160);
  inode.writeUInt32LE(0o100644, 52);
  inode.writeBigUInt64LE(2n ** 53n - 1n, 16);
  assert.equal(parseInodeItem(inode, 257).size, Number.MAX_SAFE_INTEGER);
  inode.writeBigUInt64LE(U64 - 1n, 16);
  assert.throws(() => parseInodeItem(inode, 257), {
    name: 'LifeboatError',
    message: 'btrfs: inode 257 claims a size of 18446744073709551615 bytes',
  });
  inode.writeBigUInt64LE(100n, 16);
  inode.writeBigUInt64LE(2n ** 53n, 24);
  assert.throws(() => parseInodeItem(inode, 300), /btrfs: inode 300 claims 9007199254740992 bytes stored/);
});
