// CRC-32C (Castagnoli), the checksum of ext4 metadata_csum and jbd2 v2/v3 journals. Raw form as
// the kernel's crc32c(): the caller passes the running value, no final inversion.
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Of `bytes` from `start` to `end` (the whole by default). */
export function crc32c(seed: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = seed >>> 0;
  // An indexed loop: an iterator per byte made listing a large folder (an inode checksum each) slow.
  for (let at = start; at < end; at++) crc = (TABLE[(crc ^ (bytes[at] as number)) & 0xff] as number) ^ (crc >>> 8);
  return crc >>> 0;
}
