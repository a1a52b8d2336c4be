// Per-block codecs. The codec is recorded with every block so a repository written where zstd
// was missing still reads where it is present, and the other way round.
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import { LifeboatError } from '../errors.ts';

export const Codec = { none: 0, zstd: 1, deflate: 2 } as const;
export type Codec = (typeof Codec)[keyof typeof Codec];

export const zstdAvailable = typeof zlib.zstdCompressSync === 'function';
export const defaultCodec: Codec = zstdAvailable ? Codec.zstd : Codec.deflate;

/** Set on the codec byte of a block sealed with the chain key (block-cipher.ts). */
export const ENCRYPTED_CODEC = 0x80;

/** A codec byte a reader knows: a codec above, sealed or not. */
export function isKnownCodec(codec: number): boolean {
  return (codec & ~ENCRYPTED_CODEC) <= Codec.deflate;
}

export function codecName(codec: number): string {
  return codec === Codec.zstd ? 'zstd' : codec === Codec.deflate ? 'deflate' : codec === Codec.none ? 'none' : `unknown(${codec})`;
}

/** zlib's sync calls grow their output in chunkSize steps (16 KiB by default): one step per block. */
function chunkFor(length: number): number {
  return Math.max(64 * 1024, length + 1024);
}

/** Compresses a block; keeps it as it is when compression would not make it smaller. */
export function compressBlock(data: Uint8Array, codec: Codec): { codec: Codec; payload: Uint8Array } {
  if (codec === Codec.none) return { codec, payload: data };
  const payload =
    codec === Codec.zstd
      ? zlib.zstdCompressSync(data, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 }, chunkSize: chunkFor(data.length) })
      : zlib.deflateRawSync(data, { level: 1, chunkSize: chunkFor(data.length) });
  return payload.length < data.length ? { codec, payload } : { codec: Codec.none, payload: data };
}

export function decompressBlock(payload: Uint8Array, codec: number, rawLength: number): Uint8Array {
  try {
    if (codec === Codec.none) return payload;
    if (codec === Codec.zstd) {
      if (!zstdAvailable) throw new LifeboatError('unavailable', 'this runtime has no zstd; run Lifeboat on Node 24 or later');
      return zlib.zstdDecompressSync(payload, { maxOutputLength: rawLength, chunkSize: chunkFor(rawLength) });
    }
    if (codec === Codec.deflate) return zlib.inflateRawSync(payload, { maxOutputLength: rawLength, chunkSize: chunkFor(rawLength) });
  } catch (error) {
    if (error instanceof LifeboatError) throw error;
    throw new LifeboatError('corrupt-backup', `block does not decompress (${codecName(codec)}): ${(error as Error).message}`);
  }
  throw new LifeboatError('corrupt-backup', `block uses unknown codec ${codec}`);
}

/** A stored block made whole again: decompressed, its length and SHA-256 checked. The error
 * says why a block is corrupt; the caller says where it is. */
export function decodeBlock(payload: Uint8Array, codec: number, rawLength: number, sha256: Uint8Array): Uint8Array {
  const data = decompressBlock(payload, codec, rawLength);
  if (data.length !== rawLength) throw new LifeboatError('corrupt-backup', `it decompresses to ${data.length} bytes`);
  if (!createHash('sha256').update(data).digest().equals(sha256))
    throw new LifeboatError('corrupt-backup', 'its SHA-256 does not match the block map');
  return data;
}
