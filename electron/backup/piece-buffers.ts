// The buffers a backup reads a disk's pieces into.
/** Piece buffers: read into, moved to a worker and back, read into again. Measured: a fresh 2 MiB
 * buffer per read cost ten times the CPU of the read itself (every page faulted in anew). */
export class PieceBuffers {
  private readonly free: Buffer[] = [];
  private readonly bytes: number;

  constructor(bytes: number) {
    this.bytes = bytes;
  }

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.bytes);
  }

  /** A piece's bytes back from a worker: their buffer is read into again. */
  give(piece: Uint8Array): void {
    if (piece.buffer.byteLength === this.bytes && !(piece.buffer instanceof SharedArrayBuffer)) this.free.push(Buffer.from(piece.buffer));
  }
}
