// LVM2's checksum of labels, metadata area headers and metadata text: the CRC-32 of zlib's
// polynomial started at 0xf597a6cf and not inverted at the end (lib/misc/crc.c).
import { crc32 } from 'node:zlib';

const LVM_INITIAL_CRC = 0xf597a6cf;

export function lvmCrc(bytes: Uint8Array, seed = LVM_INITIAL_CRC): number {
  // zlib inverts the running value on entry and on exit; LVM does neither.
  return (crc32(bytes, (seed ^ 0xffffffff) >>> 0) ^ 0xffffffff) >>> 0;
}
