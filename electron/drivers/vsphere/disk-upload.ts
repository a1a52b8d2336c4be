// NBD (network) transport: a disk goes to the host's HTTP file service as one streamed PUT, read
// in order straight from where it comes from (a restore point's blocks are decoded and checked in
// the block workers ahead of the upload, into memory reused once sent), so reading, decoding and
// sending overlap and nothing is staged on the engine's disk first. The file service takes whole
// files only (no ranges), so the holes of a thin disk are sent as zeros.
import type { Disk, DiskChunk } from '../../disks/disk.ts';
import { LifeboatError } from '../../errors.ts';

/** Bytes read per step from a disk that does not stream: large writes to the socket, few awaits per second. */
const CHUNK_BYTES = 4 * 1024 * 1024;

/** The disk's bytes in order, as the upload's body; `onBytes` gets the bytes handed on so far. A
 * read that fails (a corrupt block) or a cancel ends the body with that error. */
export async function* diskBody(disk: Disk, signal: AbortSignal, onBytes: (bytes: number) => void): AsyncGenerator<DiskChunk> {
  let sent = 0;
  for await (const piece of disk.stream?.() ?? readPieces(disk)) {
    if (signal.aborted) {
      piece.release?.();
      throw new LifeboatError('cancelled', 'the job was cancelled by the operator');
    }
    yield piece;
    sent += piece.bytes.length;
    onBytes(sent);
  }
  if (sent !== disk.capacity) throw new LifeboatError('internal', `${disk.description} gave ${sent} of its ${disk.capacity} bytes`);
}

async function* readPieces(disk: Disk): AsyncGenerator<DiskChunk> {
  for (let offset = 0; offset < disk.capacity; offset += CHUNK_BYTES)
    yield { bytes: await disk.read(offset, Math.min(CHUNK_BYTES, disk.capacity - offset)) };
}
