// XFS v5 metadata checksums: CRC-32C of the whole structure with its 4-byte CRC field taken as
// zero, seeded with ~0 and inverted at the end, stored little-endian (xfs_cksum.h).
import { crc32c } from '../crc32c.ts';

const ZERO = new Uint8Array(4);

export function checksumOk(bytes: Buffer, crcOffset: number): boolean {
  if (crcOffset + 4 > bytes.length) return false;
  let crc = crc32c(0xffffffff, bytes.subarray(0, crcOffset));
  crc = crc32c(crc, ZERO);
  crc = crc32c(crc, bytes.subarray(crcOffset + 4));
  return ~crc >>> 0 === bytes.readUInt32LE(crcOffset);
}
