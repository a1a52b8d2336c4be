// Worker side of a backup: one message per piece of a disk (several blocks), so the engine's
// thread only reads and decides. Scanning finds zero blocks at memory speed, fast-hashes the
// others and SHA-256s only those whose fast hash says they changed; compression and sealing run
// only for the blocks the engine found nowhere in the chain. A full point's piece is scanned and
// stored in one message instead (packBlocks): with no parent, nearly every block is new.
import { createHash } from 'node:crypto';
import { createXXHash128 } from 'hash-wasm';
import { isAllZero } from '../disks/zero.ts';
import { LifeboatError } from '../errors.ts';
import { sealBlock } from '../repository/block-cipher.ts';
import { compressBlock, ENCRYPTED_CODEC, type Codec } from '../repository/codec.ts';
import { FAST_HASH_BYTES } from '../repository/fast-hash-map.ts';
import type {
  CompressBlocksResult,
  CompressBlocksTask,
  PackBlocksResult,
  PackBlocksTask,
  ScanBlocksResult,
  ScanBlocksTask,
} from './messages.ts';
import { ownedCopy } from './pool.ts';

const xxh128 = await createXXHash128();
const SHA256_BYTES = 32;

type StoredForm = { codec: number; payload: Uint8Array };

function blockAt(data: Uint8Array, blockSize: number, index: number): Uint8Array {
  return data.subarray(index * blockSize, Math.min(data.length, (index + 1) * blockSize));
}

export function scanBlocks(task: ScanBlocksTask): { result: ScanBlocksResult; transfer: ArrayBuffer[] } {
  const started = performance.now();
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
  const result: ScanBlocksResult = { data, zero, hashed, fastHashes, sha256, busyMs: performance.now() - started };
  return { result, transfer: [data.buffer, zero.buffer, hashed.buffer, fastHashes.buffer, sha256.buffer] as ArrayBuffer[] };
}

function sealed(compressed: { codec: number; payload: Uint8Array }, key: Uint8Array, sha256: Uint8Array | undefined): StoredForm {
  if (!sha256) throw new LifeboatError('internal', 'a block to seal came without its SHA-256');
  return { codec: compressed.codec | ENCRYPTED_CODEC, payload: sealBlock(compressed.payload, key, sha256) };
}

export function compressBlocks(task: CompressBlocksTask): { result: CompressBlocksResult; transfer: ArrayBuffer[] } {
  const started = performance.now();
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
  return { result: { data: task.data, stored, busyMs: performance.now() - started }, transfer };
}

/** A full point's piece: each block's zero test, hashes and stored form in one pass. Payloads that
 * are not the block itself are gathered into one `packed` buffer, so the reply moves two buffers. */
export function packBlocks(task: PackBlocksTask): { result: PackBlocksResult; transfer: ArrayBuffer[] } {
  const { data, blockSize, sealKey } = task;
  const count = Math.ceil(data.length / blockSize);
  const zero = new Uint8Array(count);
  const fastHashes = new Uint8Array(count * FAST_HASH_BYTES);
  const sha256 = new Uint8Array(count * SHA256_BYTES);
  const codecs = new Uint8Array(count);
  const inData = new Uint8Array(count);
  const offsets = new Uint32Array(count);
  const lengths = new Uint32Array(count);
  const forms: (StoredForm | null)[] = [];
  const busyMs = { hash: 0, compress: 0 };
  let packedBytes = 0;
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    const block = blockAt(data, blockSize, index);
    if (isAllZero(block)) {
      zero[index] = 1;
      forms.push(null);
      busyMs.hash += performance.now() - started;
      continue;
    }
    fastHashes.set(xxh128.init().update(block).digest('binary'), index * FAST_HASH_BYTES);
    const digest = createHash('sha256').update(block).digest();
    sha256.set(digest, index * SHA256_BYTES);
    const hashed = performance.now();
    busyMs.hash += hashed - started;
    const compressed = compressBlock(block, task.codec as Codec);
    const form = sealKey ? sealed(compressed, sealKey, digest) : compressed;
    busyMs.compress += performance.now() - hashed;
    codecs[index] = form.codec;
    lengths[index] = form.payload.length;
    inData[index] = form.payload.buffer === data.buffer ? 1 : 0;
    if (!inData[index]) packedBytes += form.payload.length;
    forms.push(form);
  }
  const packed = new Uint8Array(packedBytes);
  let at = 0;
  forms.forEach((form, index) => {
    if (!form || inData[index]) return;
    packed.set(form.payload, at);
    offsets[index] = at;
    at += form.payload.length;
  });
  const result: PackBlocksResult = { data, zero, fastHashes, sha256, codecs, inData, offsets, lengths, packed, busyMs };
  const transfer = [data, zero, fastHashes, sha256, codecs, inData, offsets, lengths, packed].map((array) => array.buffer as ArrayBuffer);
  return { result, transfer };
}
