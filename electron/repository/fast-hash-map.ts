// The fast-hash sidecar of one disk of a point (`disk-<n>.fh`): a 128-bit XXH3 hash of every block
// of the whole disk as the backup read it, so the next incremental tells an unchanged block by
// this hash alone (no SHA-256, no compression) and reads only its parent's sidecar. It is an aid,
// never the truth: the block map still holds every block's SHA-256, restores never read the
// sidecar, and a missing or damaged one only makes the next backup SHA-256 every block.
//
// Format (little-endian), also in docs/formats/repository.md:
//   offset 0  8 bytes  magic `LBFHASH1`
//          8  4        algorithm: 1 = XXH3-128 (seed 0), the digest's 16 bytes as hash-wasm gives them
//         12  4        block size
//         16  4        block count (every block of the disk, holes too)
//         20  4        reserved, 0
//         24  16 × block count: the hash of each block in order; 16 zero bytes = no hash (a hole, or
//                      a block whose hash is unknown: the next backup SHA-256s it)
// The manifest's disk entry names the file and its SHA-256 (`fastHashes`), checked when read.
import { LifeboatError } from '../errors.ts';
import { sha256Hex } from './block-map.ts';

export const FAST_HASH_BYTES = 16;
export const FAST_HASH_HEADER_BYTES = 24;
const MAGIC = 'LBFHASH1';
const XXH3_128 = 1;

export function fastHashFileName(diskNumber: number): string {
  return `disk-${diskNumber}.fh`;
}

/** A sidecar of `blockCount` blocks, every hash zero (unknown) until set through hashesOf(file). */
export function newFastHashFile(blockSize: number, blockCount: number): Buffer {
  const file = Buffer.alloc(FAST_HASH_HEADER_BYTES + blockCount * FAST_HASH_BYTES);
  file.write(MAGIC, 0, 'latin1');
  file.writeUInt32LE(XXH3_128, 8);
  file.writeUInt32LE(blockSize, 12);
  file.writeUInt32LE(blockCount, 16);
  return file;
}

/** The hash area of a sidecar: 16 bytes per block, block 0 first. */
export function hashesOf(file: Buffer): Buffer {
  return file.subarray(FAST_HASH_HEADER_BYTES);
}

/** The hash area of a sidecar read back; any mismatch with what the manifest says is corrupt-backup. */
export function decodeFastHashFile(bytes: Buffer, expected: { blockSize: number; blockCount: number; sha256: string }): Buffer {
  const bad = (why: string): never => {
    throw new LifeboatError('corrupt-backup', `fast-hash file is damaged (${why})`);
  };
  if (sha256Hex(bytes) !== expected.sha256) bad('its checksum does not match the manifest');
  if (bytes.length < FAST_HASH_HEADER_BYTES || bytes.toString('latin1', 0, 8) !== MAGIC) bad('bad header');
  if (bytes.readUInt32LE(8) !== XXH3_128) bad(`unknown algorithm ${bytes.readUInt32LE(8)}`);
  if (bytes.readUInt32LE(12) !== expected.blockSize) bad('block size differs from the manifest');
  if (bytes.readUInt32LE(16) !== expected.blockCount) bad('block count differs from the disk');
  if (bytes.readUInt32LE(20) !== 0) bad('reserved field is not zero');
  if (bytes.length !== FAST_HASH_HEADER_BYTES + expected.blockCount * FAST_HASH_BYTES) bad('length does not match its block count');
  return hashesOf(bytes);
}
