// XDR (RFC 4506): big-endian 32-bit words, 64-bit hypers, opaque data and strings padded to
// four bytes. The reader refuses anything that runs past its buffer or over a stated limit with
// our own error, so a hostile packet is a clear refusal and never a crash or a huge allocation.
import { LifeboatError } from '../errors.ts';

export class XdrError extends LifeboatError {
  constructor(message: string) {
    super('bad-request', `XDR: ${message}`);
  }
}

export class XdrReader {
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  offset: number;

  constructor(bytes: Uint8Array, offset = 0) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(count: number, what: string): void {
    if (count < 0 || this.offset + count > this.bytes.length) throw new XdrError(`${what} runs past the end of the message`);
  }

  u32(what = 'a word'): number {
    this.need(4, what);
    const value = this.view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }

  bool(what = 'a boolean'): boolean {
    const value = this.u32(what);
    if (value > 1) throw new XdrError(`${what} is ${value}, not a boolean`);
    return value === 1;
  }

  /** A 64-bit unsigned value; refused past 2^53 where it would lose precision as a number. */
  u64(what = 'a hyper'): number {
    const high = this.u32(what);
    const low = this.u32(what);
    if (high >= 0x200000) throw new XdrError(`${what} is too large`);
    return high * 2 ** 32 + low;
  }

  fixed(length: number, what = 'fixed opaque data'): Uint8Array {
    this.need(length, what);
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length + ((4 - (length % 4)) % 4);
    if (this.offset > this.bytes.length) throw new XdrError(`${what} padding runs past the end`);
    return out;
  }

  opaque(max: number, what = 'opaque data'): Uint8Array {
    const length = this.u32(`the length of ${what}`);
    if (length > max) throw new XdrError(`${what} is ${length} bytes, more than ${max}`);
    return this.fixed(length, what);
  }

  string(max: number, what = 'a string'): string {
    return Buffer.from(this.opaque(max, what)).toString('utf8');
  }
}

export class XdrWriter {
  private buffer: Buffer;
  private length = 0;

  /** `capacity`: the bytes expected, so a large reply is not grown (and copied) step by step. */
  constructor(capacity = 256) {
    this.buffer = Buffer.allocUnsafe(capacity);
  }

  private room(count: number): void {
    if (this.length + count <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + count));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  u32(value: number): this {
    this.room(4);
    this.buffer.writeUInt32BE(value >>> 0, this.length);
    this.length += 4;
    return this;
  }

  bool(value: boolean): this {
    return this.u32(value ? 1 : 0);
  }

  u64(value: number): this {
    return this.u32(Math.floor(value / 2 ** 32)).u32(value % 2 ** 32);
  }

  fixed(bytes: Uint8Array): this {
    const padded = bytes.length + ((4 - (bytes.length % 4)) % 4);
    this.room(padded);
    this.buffer.set(bytes, this.length);
    this.buffer.fill(0, this.length + bytes.length, this.length + padded);
    this.length += padded;
    return this;
  }

  opaque(bytes: Uint8Array): this {
    return this.u32(bytes.length).fixed(bytes);
  }

  string(text: string): this {
    return this.opaque(Buffer.from(text, 'utf8'));
  }

  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}
