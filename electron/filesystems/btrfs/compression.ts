// A compressed btrfs extent (file extent item compression byte: 1 zlib, 2 lzo, 3 zstd) decompressed
// to its ram_bytes: zlib is one zlib stream, zstd one zstd frame (node:zlib, output bounded), lzo
// btrfs's own framing of LZO1X segments (lzo.ts). Fewer bytes than ram_bytes read as zeros after,
// as the kernel leaves them; more is damage.
// The kernel does not clear the rest of a zstd extent's last sector after the frame, so the frame
// is measured first (RFC 8878: magic 0xFD2FB528, frame header descriptor, blocks each with a 3-byte
// header — last flag, type raw/RLE/compressed, size — then an optional 4-byte checksum).
import { constants, inflateSync, zstdDecompressSync } from 'node:zlib';
import { LifeboatError } from '../../errors.ts';
import { btrfsLzoDecompress } from './lzo.ts';

export const COMPRESSION_NAMES: Record<number, string> = { 1: 'zlib', 2: 'lzo', 3: 'zstd' };
/** btrfs never compresses more than 128 KiB into one extent; inline extents are smaller still. */
export const MAX_COMPRESSED_RAM = 128 * 1024;

export function decompress(kind: number, input: Buffer, ramBytes: number, sectorSize: number): Buffer {
  const name = COMPRESSION_NAMES[kind];
  if (name === undefined) throw new LifeboatError('unavailable', `btrfs compression type ${kind}: not read`);
  if (ramBytes < 1 || ramBytes > MAX_COMPRESSED_RAM)
    throw new LifeboatError('corrupt-disk', `btrfs: a ${name} extent claims ${ramBytes} bytes uncompressed`);
  if (kind === 2) return btrfsLzoDecompress(input, ramBytes, sectorSize);
  let out: Buffer;
  try {
    out =
      kind === 1
        ? inflateSync(input, { maxOutputLength: ramBytes, finishFlush: constants.Z_SYNC_FLUSH })
        : zstdDecompressSync(input.subarray(0, zstdFrameLength(input)), { maxOutputLength: ramBytes });
  } catch (error) {
    throw new LifeboatError('corrupt-disk', `btrfs: a ${name} compressed extent is damaged (${(error as Error).message})`);
  }
  if (out.length === ramBytes) return out;
  const padded = Buffer.alloc(ramBytes);
  out.copy(padded);
  return padded;
}

const ZSTD_MAGIC = 0xfd2fb528;

/** How many bytes the zstd frame at the start of `input` takes. */
export function zstdFrameLength(input: Buffer): number {
  const broken = (why: string): never => {
    throw new LifeboatError('corrupt-disk', `btrfs: a zstd compressed extent is damaged (${why})`);
  };
  if (input.length < 6 || input.readUInt32LE(0) !== ZSTD_MAGIC) broken('no zstd frame');
  const descriptor = input[4] as number;
  const singleSegment = (descriptor >> 5) & 1;
  const contentSizeBytes = [singleSegment, 2, 4, 8][descriptor >> 6] as number;
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 3] as number;
  let at = 5 + (singleSegment ? 0 : 1) + dictionaryBytes + contentSizeBytes;
  for (;;) {
    if (at + 3 > input.length) broken('a block header passes the end');
    const header = input.readUIntLE(at, 3);
    const type = (header >> 1) & 3;
    if (type === 3) broken('a reserved block type');
    at += 3 + (type === 1 ? 1 : header >>> 3);
    if (at > input.length) broken('a block passes the end');
    if (header & 1) break;
  }
  at += descriptor & 4 ? 4 : 0;
  if (at > input.length) broken('the checksum passes the end');
  return at;
}
