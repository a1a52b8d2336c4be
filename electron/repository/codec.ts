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

/** Room for anything zstd makes of `length` bytes (ZSTD_COMPRESSBOUND, with a margin). Given that
 * much output, zstd compresses the block in one pass straight from the input, instead of copying
 * it through its stream window: measured a fifth less CPU on text, the same frame format. */
function zstdBound(length: number): number {
  return length + (length >> 8) + 1024;
}

/** Compresses a block; keeps it as it is when compression would not make it smaller. */
export function compressBlock(data: Uint8Array, codec: Codec): { codec: Codec; payload: Uint8Array } {
  if (codec === Codec.none) return { codec, payload: data };
  const payload =
    codec === Codec.zstd
      ? zlib.zstdCompressSync(data, {
          params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 },
          chunkSize: Math.max(chunkFor(data.length), zstdBound(data.length)),
        })
      : zlib.deflateRawSync(data, { level: 1, chunkSize: chunkFor(data.length) });
  return payload.length < data.length ? { codec, payload } : { codec: Codec.none, payload: data };
}

export function decompressBlock(payload: Uint8Array, codec: number, rawLength: number): Uint8Array {
  try {
    if (codec === Codec.none) return payload;
    const options = { maxOutputLength: rawLength, chunkSize: chunkFor(rawLength) };
    if (codec === Codec.zstd) return zlib.zstdDecompressSync(payload, options);
    if (codec === Codec.deflate) return zlib.inflateRawSync(payload, options);
  } catch (error) {
    throw decompressError(error, codec);
  }
  throw unknownCodec(codec);
}

/** decompressBlock on zlib's thread pool, for a process that must keep answering its peer meanwhile. */
export async function decompressBlockAsync(payload: Uint8Array, codec: number, rawLength: number): Promise<Uint8Array> {
  if (codec === Codec.none) return payload;
  if (codec !== Codec.zstd && codec !== Codec.deflate) throw unknownCodec(codec);
  if (codec === Codec.zstd && !zstdAvailable) throw noZstd();
  const options = { maxOutputLength: rawLength, chunkSize: chunkFor(rawLength) };
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, data: Buffer): void => (error ? reject(decompressError(error, codec)) : resolve(data));
    if (codec === Codec.zstd) zlib.zstdDecompress(payload, options, done);
    else zlib.inflateRaw(payload, options, done);
  });
}

const noZstd = (): LifeboatError => new LifeboatError('unavailable', 'this runtime has no zstd; run Lifeboat on Node 24 or later');

/** Why a block would not decompress (zlib's error, or the runtime's missing zstd). */
function decompressError(error: unknown, codec: number): LifeboatError {
  if (codec === Codec.zstd && !zstdAvailable) return noZstd();
  return new LifeboatError('corrupt-backup', `block does not decompress (${codecName(codec)}): ${(error as Error).message}`);
}

const unknownCodec = (codec: number): LifeboatError => new LifeboatError('corrupt-backup', `block uses unknown codec ${codec}`);

/** A stored block made whole again: decompressed, its length and SHA-256 checked. The error
 * says why a block is corrupt; the caller says where it is. */
export function decodeBlock(payload: Uint8Array, codec: number, rawLength: number, sha256: Uint8Array): Uint8Array {
  const data = decompressBlock(payload, codec, rawLength);
  if (data.length !== rawLength) throw new LifeboatError('corrupt-backup', `it decompresses to ${data.length} bytes`);
  if (!createHash('sha256').update(data).digest().equals(sha256))
    throw new LifeboatError('corrupt-backup', 'its SHA-256 does not match the block map');
  return data;
}
