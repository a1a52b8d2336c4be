// Big-endian fields of the CDBs we build and of the bytes devices answer with. Every read is
// bounds-checked, so a short or damaged answer is our LifeboatError, never a RangeError; every
// write checks that the value fits its field, so a caller's mistake never wraps silently.
import { LifeboatError } from '../../errors.ts';

/** What a device answered does not follow the standard. */
export function malformed(what: string, detail: string): LifeboatError {
  return new LifeboatError('unavailable', `The device's ${what} is malformed: ${detail}.`);
}

function within(bytes: Uint8Array, offset: number, length: number, what: string): void {
  if (offset < 0 || offset + length > bytes.length) {
    throw malformed(what, `${bytes.length} bytes, too short for a field at byte ${offset} of ${length} bytes`);
  }
}

function readBig(bytes: Uint8Array, offset: number, length: number, what: string): bigint {
  within(bytes, offset, length, what);
  let value = 0n;
  for (const byte of bytes.subarray(offset, offset + length)) value = (value << 8n) | BigInt(byte);
  return value;
}

function safe(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER))
    throw malformed(what, `the value ${value} is out of range`);
  return Number(value);
}

/** An unsigned big-endian field of 1 to 8 bytes (values past 2^53 are refused as malformed). */
export function readUnsigned(bytes: Uint8Array, offset: number, length: number, what: string): number {
  return safe(readBig(bytes, offset, length, what), what);
}

/** A two's complement big-endian field of 1 to 8 bytes. */
export function readSigned(bytes: Uint8Array, offset: number, length: number, what: string): number {
  return safe(BigInt.asIntN(length * 8, readBig(bytes, offset, length, what)), what);
}

/** One byte, or 0 when the answer stops before it (optional trailing fields). */
export function byteOr0(bytes: Uint8Array, offset: number): number {
  return offset < bytes.length ? bytes[offset]! : 0;
}

function fits(value: number, length: number, signed: boolean): boolean {
  if (!Number.isSafeInteger(value)) return false;
  const bits = BigInt(length * 8);
  const big = BigInt(value);
  return signed ? big >= -(1n << (bits - 1n)) && big < 1n << (bits - 1n) : big >= 0n && big < 1n << bits;
}

function writeField(bytes: Uint8Array, offset: number, length: number, value: number, signed: boolean, what: string): void {
  if (!fits(value, length, signed)) throw new LifeboatError('bad-request', `${what} ${value} does not fit a ${length}-byte SCSI field.`);
  let big = BigInt.asUintN(length * 8, BigInt(value));
  for (let i = length - 1; i >= 0; i--) {
    bytes[offset + i] = Number(big & 0xffn);
    big >>= 8n;
  }
}

export function writeUnsigned(bytes: Uint8Array, offset: number, length: number, value: number, what: string): void {
  writeField(bytes, offset, length, value, false, what);
}

export function writeSigned(bytes: Uint8Array, offset: number, length: number, value: number, what: string): void {
  writeField(bytes, offset, length, value, true, what);
}

/** Whether a value fits a field, for choosing between the 6-byte and 16-byte forms of a command. */
export function fitsField(value: number, length: number, signed: boolean): boolean {
  return fits(value, length, signed);
}

/** A CDB of `length` bytes with its operation code and the given single bytes set. */
export function cdb(length: 6 | 10 | 12 | 16, opcode: number, bytes: Record<number, number> = {}): Uint8Array {
  const out = new Uint8Array(length);
  out[0] = opcode;
  for (const [index, value] of Object.entries(bytes)) out[Number(index)] = value;
  return out;
}

/** A fixed-width ASCII field (INQUIRY, volume tags): clamped to the answer, printable only, trimmed. */
export function ascii(bytes: Uint8Array, start: number, end: number): string {
  let text = '';
  for (const byte of bytes.subarray(start, Math.min(end, bytes.length))) {
    if (byte === 0) break;
    text += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '?';
  }
  return text.trim();
}

export function hex(value: number): string {
  return `${value.toString(16).toUpperCase().padStart(2, '0')}h`;
}
