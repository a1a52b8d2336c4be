// A stored block decoded for a reader outside a restore (file browsing, Instant Recovery, NBD):
// unsealed, decompressed and SHA-256-checked in a block worker. zstd goes through the system's
// libzstd (zstd-into.ts) straight into a buffer of the block's own size, which is then moved to
// the engine's thread as it is: no copy, and about 2.5x faster than node:zlib's decoder.
import { LifeboatError } from '../errors.ts';
import { unsealed } from '../repository/block-cipher.ts';
import { Codec, decodeBlock } from '../repository/codec.ts';
import { ownedCopy } from './pool.ts';
import type { DecodeBlockResult, DecodeBlockTask } from './messages.ts';
import { zstdInto, type ZstdInto } from './zstd-into.ts';

let decoder: ZstdInto | null | undefined;

function viaLibzstd(zstd: ZstdInto, frame: Uint8Array, rawLength: number, sha256: Uint8Array): Uint8Array {
  const into = new Uint8Array(rawLength);
  let length: number;
  try {
    length = zstd(frame, into);
  } catch (error) {
    throw new LifeboatError('corrupt-backup', `block does not decompress (zstd): ${(error as Error).message}`);
  }
  // The length and SHA-256 checks of every decoded block (nothing left to decompress).
  return decodeBlock(into.subarray(0, length), Codec.none, rawLength, sha256);
}

/** The block's bytes in an ArrayBuffer of their own, ready to be transferred. */
export function decodeBlockTask(task: DecodeBlockTask, zstd: ZstdInto | null = (decoder ??= zstdInto())): DecodeBlockResult {
  const plain = unsealed(task.payload, task.codec, task.sha256, task.dataKey);
  if (plain.codec === Codec.zstd && zstd) return { data: viaLibzstd(zstd, plain.payload, task.rawLength, task.sha256) };
  return { data: ownedCopy(decodeBlock(plain.payload, plain.codec, task.rawLength, task.sha256)) };
}
