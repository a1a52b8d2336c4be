// How a streaming tape drive behaves when the host is too slow or too fast. While it streams,
// the drive moves the tape at a speed it matches to the host (between its minimum and its native
// rate) and buffers the difference. A host slower than the minimum speed lets the buffer fill
// (reading) or run dry (writing), and the drive has to stop, back up and start again: a
// backhitch, which done often is the shoe-shining that wears heads and tape. A host faster than
// the native rate waits. Writing starts streaming once the buffer holds a start threshold;
// filemarks flush the buffer and stop the tape on purpose, which is no starvation.
import type { DriveModel } from './tape-driver.ts';

export class StreamingModel {
  private readonly model: DriveModel;
  private readonly now: () => number;
  /** Bytes in the drive's buffer: read ahead of the host, or written but not yet on tape. */
  private fill = 0;
  private speed: number;
  private streaming = false;
  private startedAt = 0;
  private lastAt = 0;
  /** Bytes the host moved since streaming started (its sustained rate decides speed matching). */
  private moved = 0;
  starvedEvents = 0;
  busySeconds = 0;

  /** `now` gives real milliseconds. Streaming runs in real time: the time scale of a virtual
   * library shortens the mechanical waits (load, rewind, locate), never the data rate. */
  constructor(model: DriveModel, now: () => number = () => performance.now()) {
    this.model = model;
    this.now = now;
    this.speed = model.bytesPerSecond;
  }

  private get startThreshold(): number {
    return Math.min(this.model.bufferBytes / 4, 256 * 1024 * 1024);
  }

  private start(at: number): void {
    this.streaming = true;
    this.startedAt = at;
    this.lastAt = at;
    this.moved = 0;
    this.speed = this.model.bytesPerSecond;
  }

  /** The host fell behind the tape: slow down to its pace if the drive can, else stop. */
  private fellBehind(at: number): void {
    const hostRate = this.moved / Math.max(at - this.startedAt, 1e-9);
    if (hostRate >= this.model.minBytesPerSecond) {
      this.speed = Math.min(this.model.bytesPerSecond, hostRate);
      return;
    }
    this.starvedEvents++;
    this.busySeconds += this.model.backhitchSeconds;
    this.streaming = false;
  }

  /** The host reads `bytes`; returns real milliseconds to wait for the tape. */
  read(bytes: number): number {
    const at = this.now() / 1000;
    if (!this.streaming) this.start(at);
    this.fill += Math.max(0, at - this.lastAt) * this.speed;
    if (this.fill > this.model.bufferBytes) {
      this.fill = this.model.bufferBytes;
      this.fellBehind(at);
      // Stopped or slowed, the drive reads on from where it stood.
      if (!this.streaming) this.start(at);
    }
    let wait = 0;
    if (bytes > this.fill) {
      // The host outruns the tape: it waits, and the drive runs at full speed.
      this.speed = this.model.bytesPerSecond;
      wait = (bytes - this.fill) / this.speed;
      this.fill = 0;
    } else this.fill -= bytes;
    return this.moved_(at, bytes, wait);
  }

  /** The host writes `bytes`; returns real milliseconds to wait until the buffer has room. */
  write(bytes: number): number {
    const at = this.now() / 1000;
    if (this.streaming) {
      this.fill -= Math.max(0, at - this.lastAt) * this.speed;
      if (this.fill < 0) {
        this.fill = 0;
        this.fellBehind(at);
      }
    }
    this.fill += bytes;
    if (!this.streaming && this.fill >= this.startThreshold) this.start(at);
    let wait = 0;
    if (this.fill > this.model.bufferBytes) {
      this.speed = this.model.bytesPerSecond;
      wait = (this.fill - this.model.bufferBytes) / this.speed;
      this.fill = this.model.bufferBytes;
    }
    return this.moved_(at, bytes, wait);
  }

  private moved_(at: number, bytes: number, wait: number): number {
    this.moved += bytes;
    this.busySeconds += bytes / this.model.bytesPerSecond;
    this.lastAt = at + wait;
    return wait * 1000;
  }

  /** Filemark: the buffer is written out and the tape stops; returns real milliseconds to wait. */
  flush(): number {
    const at = this.now() / 1000;
    if (this.streaming) this.fill = Math.max(0, this.fill - Math.max(0, at - this.lastAt) * this.speed);
    const wait = this.fill / this.model.bytesPerSecond;
    this.fill = 0;
    this.streaming = false;
    return wait * 1000;
  }

  /** The host stops on purpose (rewind, locate, end of a pass): the next transfer starts afresh. */
  restart(): void {
    this.fill = 0;
    this.streaming = false;
  }
}
