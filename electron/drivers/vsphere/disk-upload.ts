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

/** A disk that can also give its bytes in order as pieces of its own (a restore point's blocks,
 * decoded ahead): sent as they are, with no copy into read buffers. */
export type StreamingDisk = Disk & { stream?(): AsyncIterable<Uint8Array> };

/** The disk's bytes in order as a byte stream; `onBytes` gets the bytes handed on so far. A read
 * that fails (a corrupt block) or a cancel ends the stream with that error. */
export function diskByteStream(disk: StreamingDisk, signal: AbortSignal, onBytes: (bytes: number) => void): Readable {
  const pieces = disk.stream?.() ?? readPieces(disk);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let sent = 0;
    for await (const piece of pieces) {
      if (signal.aborted) throw new LifeboatError('cancelled', 'the job was cancelled by the operator');
      yield piece;
      sent += piece.length;
      onBytes(sent);
    }
    if (sent !== disk.capacity) throw new LifeboatError('internal', `${disk.description} gave ${sent} of its ${disk.capacity} bytes`);
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 2 * CHUNK_BYTES });
}

async function* readPieces(disk: Disk): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < disk.capacity; offset += CHUNK_BYTES)
    yield await disk.read(offset, Math.min(CHUNK_BYTES, disk.capacity - offset));
}
