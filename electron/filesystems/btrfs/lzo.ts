// LZO1X decompression (the format of the Linux kernel's lib/lzo, described in its
// Documentation/staging/lzo.rst), and btrfs's framing of it (fs/btrfs/lzo.c):
//   u32 LE total length of the compressed data, this header included; then segments, each a
//   u32 LE length and that many bytes of one LZO1X stream that holds at most one sector of output.
//   A segment header never crosses a sector boundary: with fewer than 4 bytes left in a sector
//   the rest of it is padding.
// LZO1X instructions (state = how many literals the previous instruction copied, 4 meaning "4 or more"):
//   first byte 17, 5+ bytes: a bitstream version byte follows (LZO-RLE, never written by btrfs: refused);
//   first byte 18..255: copy (byte - 17) literals.
//   0..15, state 0:  literal run of 3 + (L or 15 + 255 × zero bytes + next byte)
//   0..15, state 1-3: 2-byte match, distance (next << 2) + D + 1, then S literals (S = low 2 bits)
//   0..15, state 4:   3-byte match, distance (next << 2) + D + 2049, then S literals
//   16..31: match of 2 + (L or 7 + ext), distance 16384 + (H << 14) + (LE16 >> 2), S = LE16 & 3;
//           distance 16384 ends the stream.
//   32..63: match of 2 + (L or 31 + ext), distance (LE16 >> 2) + 1, S = LE16 & 3
//   64..255: match of (byte >> 5) + 1, distance (next << 3) + ((byte >> 2) & 7) + 1, S = byte & 3
// Every read of input and write of output is bounded; damaged input throws, never overruns.
import { LifeboatError } from '../../errors.ts';

const broken = (why: string): never => {
  throw new LifeboatError('corrupt-disk', `btrfs: an LZO compressed extent is damaged (${why})`);
};

/** One LZO1X stream, its output no larger than `maxOutput`. */
export function lzo1xDecompress(input: Uint8Array, maxOutput: number): Uint8Array {
  const out = new Uint8Array(maxOutput);
  let ip = 0;
  let op = 0;
  const byte = (): number => {
    if (ip >= input.length) broken('the input ends early');
    return input[ip++] as number;
  };
  /** A length's extension: zero bytes each worth 255, then a non-zero byte. */
  const extended = (base: number): number => {
    let zeros = 0;
    while (byte() === 0) zeros++;
    return base + zeros * 255 + (input[ip - 1] as number);
  };
  const literals = (count: number): void => {
    if (ip + count > input.length) broken('a literal run passes the end of the input');
    if (op + count > maxOutput) broken('it holds more than its size');
    out.set(input.subarray(ip, ip + count), op);
    ip += count;
    op += count;
  };
  const match = (distance: number, length: number): void => {
    if (distance > op) broken('a match reaches before the start');
    if (op + length > maxOutput) broken('it holds more than its size');
    for (let from = op - distance, end = op + length; op < end;) out[op++] = out[from++] as number;
  };
  // A version byte only comes with LZO-RLE (version 1), which btrfs does not write.
  if (input.length >= 5 && input[0] === 17) broken(`LZO bitstream version ${input[1]}, which btrfs does not write`);
  let state = 0;
  if ((input[ip] ?? 0) > 17) {
    const count = byte() - 17;
    literals(count);
    state = count < 4 ? count : 4;
  }
  for (;;) {
    const t = byte();
    let next: number;
    if (t < 16) {
      if (state === 0) {
        literals(3 + (t || extended(15)));
        state = 4;
        continue;
      }
      const distance = (byte() << 2) + (t >> 2) + (state === 4 ? 2049 : 1);
      match(distance, state === 4 ? 3 : 2);
      next = t & 3;
    } else if (t < 32) {
      const length = 2 + (t & 7 || extended(7));
      const low = byte();
      const word = low | (byte() << 8);
      const far = ((t & 8) << 11) + (word >> 2);
      if (far === 0) return out.subarray(0, op);
      match(far + 16384, length);
      next = word & 3;
    } else if (t < 64) {
      const length = 2 + (t & 31 || extended(31));
      const low = byte();
      const word = low | (byte() << 8);
      match((word >> 2) + 1, length);
      next = word & 3;
    } else {
      match((byte() << 3) + ((t >> 2) & 7) + 1, (t >> 5) + 1);
      next = t & 3;
    }
    literals(next);
    state = next;
  }
}

/** A btrfs LZO extent (regular or inline) decompressed to at most `outputLength` bytes. */
export function btrfsLzoDecompress(input: Uint8Array, outputLength: number, sectorSize: number): Buffer {
  const view = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (view.length < 4) broken('no header');
  const total = view.readUInt32LE(0);
  if (total < 4 || total > view.length) broken(`it claims ${total} bytes but holds ${view.length}`);
  const out = Buffer.alloc(outputLength);
  let done = 0;
  let at = 4;
  while (done < outputLength && at < total) {
    const left = sectorSize - (at % sectorSize);
    if (left < 4) at += left;
    if (at + 4 > total) break;
    const length = view.readUInt32LE(at);
    at += 4;
    if (length === 0 || at + length > total) broken(`a segment of ${length} bytes passes the end`);
    const segment = lzo1xDecompress(view.subarray(at, at + length), sectorSize).subarray(0, outputLength - done);
    out.set(segment, done);
    done += segment.length;
    at += length;
  }
  return out;
}
