// Worker side of a backup: one message per piece of a disk (several blocks), so the engine's
// thread only reads and decides. Scanning finds zero blocks at memory speed, fast-hashes the
// others and SHA-256s only those whose fast hash says they changed; compression and sealing run
// only for the blocks the engine found nowhere in the chain.
import { createHash } from 'node:crypto';
import { createXXHash128 } from 'hash-wasm';
import { isAllZero } from '../disks/zero.ts';
import { LifeboatError } from '../errors.ts';
import { sealBlock } from '../repository/block-cipher.ts';
import { compressBlock, ENCRYPTED_CODEC, type Codec } from '../repository/codec.ts';
import { FAST_HASH_BYTES } from '../repository/fast-hash-map.ts';
import type { CompressBlocksResult, CompressBlocksTask, ScanBlocksResult, ScanBlocksTask } from './messages.ts';
import { ownedCopy } from './pool.ts';

const xxh128 = await createXXHash128();
const SHA256_BYTES = 32;

function blockAt(data: Uint8Array, blockSize: number, index: number): Uint8Array {
  return data.subarray(index * blockSize, Math.min(data.length, (index + 1) * blockSize));
}

export function scanBlocks(task: ScanBlocksTask): { result: ScanBlocksResult; transfer: ArrayBuffer[] } {
  const { data, blockSize, parentFastHashes } = task;
  const count = Math.ceil(data.length / blockSize);
  const zero = new Uint8Array(count);
  const hashed = new Uint8Array(count);
  const fastHashes = new Uint8Array(count * FAST_HASH_BYTES);
  const sha256 = new Uint8Array(count * SHA256_BYTES);
  for (let index = 0; index < count; index++) {
    const block = blockAt(data, blockSize, index);
    if (isAllZero(block)) {
      zero[index] = 1;
      continue;
    }
    const fast = xxh128.init().update(block).digest('binary');
    fastHashes.set(fast, index * FAST_HASH_BYTES);
    const before = parentFastHashes?.subarray(index * FAST_HASH_BYTES, (index + 1) * FAST_HASH_BYTES);
    // An all-zero entry is no hash (a hole, a block never hashed): never "unchanged".
    if (before && !isAllZero(before) && Buffer.from(fast).equals(before)) continue;
    sha256.set(createHash('sha256').update(block).digest(), index * SHA256_BYTES);
    hashed[index] = 1;
  }
  const result: ScanBlocksResult = { data, zero, hashed, fastHashes, sha256 };
  return { result, transfer: [data.buffer, zero.buffer, hashed.buffer, fastHashes.buffer, sha256.buffer] as ArrayBuffer[] };
}

function sealed(compressed: { codec: number; payload: Uint8Array }, key: Uint8Array, sha256: Uint8Array | undefined) {
  if (!sha256) throw new LifeboatError('internal', 'a block to seal came without its SHA-256');
  return { codec: compressed.codec | ENCRYPTED_CODEC, payload: sealBlock(compressed.payload, key, sha256) };
}

export function compressBlocks(task: CompressBlocksTask): { result: CompressBlocksResult; transfer: ArrayBuffer[] } {
  const transfer = [task.data.buffer as ArrayBuffer];
  const stored = task.blocks.map((index, i) => {
    const block = blockAt(task.data, task.blockSize, index);
    const compressed = compressBlock(block, task.codec as Codec);
    const form = task.seal ? sealed(compressed, task.seal.key, task.seal.sha256s[i]) : compressed;
    // A block kept as it is travels inside `data`; anything else moves in a buffer of its own
    // (a view into a larger one would copy all of it).
    if (form.payload.buffer === task.data.buffer) return form;
    const payload = ownedCopy(form.payload);
    transfer.push(payload.buffer as ArrayBuffer);
    return { codec: form.codec, payload };
  });
  return { result: { data: task.data, stored }, transfer };
}
