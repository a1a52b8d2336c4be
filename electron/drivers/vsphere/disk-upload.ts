// NBD (network) transport: a disk goes to the host's HTTP file service as one streamed PUT, read
// in order straight from where it comes from (a restore point's blocks are decoded and checked in
// the block workers ahead of the upload), so reading, decoding and sending overlap and nothing is
// staged on the engine's disk first. The file service takes whole files only (no ranges), so the
// holes of a thin disk are sent as zeros.
import { Readable } from 'node:stream';
import type { Disk } from '../../disks/disk.ts';
import { LifeboatError } from '../../errors.ts';

/** Bytes read per step: large writes to the socket, few awaits per second. */
const CHUNK_BYTES = 4 * 1024 * 1024;

/** The disk's bytes in order as a byte stream; `onBytes` gets the bytes handed on so far. A read
 * that fails (a corrupt block) or a cancel ends the stream with that error. */
export function diskByteStream(disk: Disk, signal: AbortSignal, onBytes: (bytes: number) => void): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < disk.capacity; offset += CHUNK_BYTES) {
      if (signal.aborted) throw new LifeboatError('cancelled', 'the job was cancelled by the operator');
      const data = await disk.read(offset, Math.min(CHUNK_BYTES, disk.capacity - offset));
      yield data;
      onBytes(offset + data.length);
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 2 * CHUNK_BYTES });
}
