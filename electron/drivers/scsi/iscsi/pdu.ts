// iSCSI PDUs (RFC 7143 §11): a 48-byte Basic Header Segment, optional Additional Header Segments,
// and a data segment padded to 4 bytes; when negotiated, a CRC32C digest after the header and one
// after the padded data (little-endian on the wire, as RFC 7143 B.4's examples show). The decoder takes TCP chunks as they come (a PDU split over several, or several in one) and
// refuses lengths no target sends, so damaged input costs a clear error, never a huge allocation.
import { LifeboatError } from '../../../errors.ts';
import { crc32c } from '../../../filesystems/crc32c.ts';

export const Opcode = {
  nopOut: 0x00,
  scsiCommand: 0x01,
  taskManagement: 0x02,
  loginRequest: 0x03,
  textRequest: 0x04,
  dataOut: 0x05,
  logoutRequest: 0x06,
  nopIn: 0x20,
  scsiResponse: 0x21,
  taskManagementResponse: 0x22,
  loginResponse: 0x23,
  textResponse: 0x24,
  dataIn: 0x25,
  logoutResponse: 0x26,
  r2t: 0x31,
  asyncMessage: 0x32,
  reject: 0x3f,
} as const;

export const BHS_LENGTH = 48;
/** The reserved tag: "no task" in ITT and TTT fields. */
export const NO_TAG = 0xffffffff;
/** The most the 24-bit DataSegmentLength can say, and our cap for any decoder (16 MiB). */
export const MAX_SEGMENT = 16 * 1024 * 1024;
/** What a session's decoder accepts: four times the MaxRecvDataSegmentLength we declare (256 KiB),
 * lenient with a target that ignores it, strict enough that a damaged length costs no memory. */
export const SESSION_MAX_SEGMENT = 1024 * 1024;
/** Immediate delivery: the target does not queue it behind CmdSN order. */
export const IMMEDIATE = 0x40;

/** Which CRC32C digests the connection carries (both off until the login ends). */
export type Digests = { header: boolean; data: boolean };
export const NO_DIGESTS: Digests = { header: false, data: false };

/** iSCSI's CRC32C: the Castagnoli CRC, inverted in and out. */
export function iscsiCrc(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return (crc32c(0xffffffff, bytes, start, end) ^ 0xffffffff) >>> 0;
}

function digestBytes(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value, 0);
  return bytes;
}

export type Pdu = {
  /** The 48 header bytes, as received or to be sent. */
  bhs: Buffer;
  ahs: Buffer;
  data: Buffer;
};

export function opcodeOf(pdu: Pdu): number {
  return (pdu.bhs[0] as number) & 0x3f;
}

/** Byte 1: the F bit and the opcode-specific flags. */
export function flagsOf(pdu: Pdu): number {
  return pdu.bhs[1] as number;
}

export function word(pdu: Pdu, offset: number): number {
  return pdu.bhs.readUInt32BE(offset);
}

export function newBhs(opcode: number, flags: number): Buffer {
  const bhs = Buffer.alloc(BHS_LENGTH);
  bhs[0] = opcode;
  bhs[1] = flags;
  return bhs;
}

function padded(length: number): number {
  return (length + 3) & ~3;
}

/** The bytes of one PDU on the wire: the header with its DataSegmentLength filled in, the data, the pad, the digests. */
export function encodePdu(bhs: Buffer, data?: Uint8Array, digests: Digests = NO_DIGESTS): Buffer[] {
  const length = data?.length ?? 0;
  if (length >= MAX_SEGMENT) throw new LifeboatError('internal', `an iSCSI data segment of ${length} bytes is too large to send`);
  bhs[4] = 0; // TotalAHSLength: we never send AHS
  bhs[5] = (length >>> 16) & 0xff;
  bhs.writeUInt16BE(length & 0xffff, 6);
  const parts = [bhs];
  if (digests.header) parts.push(digestBytes(iscsiCrc(bhs)));
  if (!data || length === 0) return parts;
  const pad = Buffer.alloc(padded(length) - length);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  parts.push(body);
  if (pad.length > 0) parts.push(pad);
  if (digests.data) parts.push(digestBytes((crc32c(crc32c(0xffffffff, body), pad) ^ 0xffffffff) >>> 0));
  return parts;
}

/** The header's declared sizes, checked against what a target can send. */
function segmentLengths(bhs: Buffer, limit: number): { ahs: number; data: number } {
  const ahs = (bhs[4] as number) * 4;
  const data = ((bhs[5] as number) << 16) | bhs.readUInt16BE(6);
  if (data > limit)
    throw new LifeboatError('unavailable', `the iSCSI target sent a PDU with a ${data}-byte data segment, more than an initiator accepts`);
  return { ahs, data };
}

/** Reassembles PDUs from a byte stream. push() returns the PDUs completed by the chunk. */
export class PduDecoder {
  #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #limit: number;
  /** Set once the login has settled them; they apply from the next PDU on. */
  digests: Digests = NO_DIGESTS;

  constructor(limit = MAX_SEGMENT) {
    this.#limit = Math.min(limit, MAX_SEGMENT);
  }

  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): Pdu[] {
    if (chunk.length > 0) {
      this.#chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.#buffered += chunk.length;
    }
    const pdus: Pdu[] = [];
    for (;;) {
      if (this.#buffered < BHS_LENGTH) return pdus;
      const headerDigest = this.digests.header ? 4 : 0;
      if (headerDigest) {
        // The header is checked before its lengths are believed.
        const headerEnd = BHS_LENGTH + (this.#peek(BHS_LENGTH)[4] as number) * 4;
        if (this.#buffered < headerEnd + 4) return pdus;
        const header = this.#peek(headerEnd + 4);
        if (iscsiCrc(header, 0, headerEnd) !== header.readUInt32LE(headerEnd)) {
          throw new LifeboatError('unavailable', 'an iSCSI header digest did not match: the connection corrupts data');
        }
      }
      const { ahs, data } = segmentLengths(this.#peek(BHS_LENGTH), this.#limit);
      const dataDigest = this.digests.data && data > 0 ? 4 : 0;
      const dataStart = BHS_LENGTH + ahs + headerDigest;
      const total = dataStart + padded(data) + dataDigest;
      if (this.#buffered < total) return pdus;
      const bytes = this.#take(total);
      if (dataDigest && iscsiCrc(bytes, dataStart, dataStart + padded(data)) !== bytes.readUInt32LE(dataStart + padded(data))) {
        throw new LifeboatError('unavailable', 'an iSCSI data digest did not match: the connection corrupts data');
      }
      pdus.push({
        bhs: Buffer.from(bytes.subarray(0, BHS_LENGTH)),
        ahs: bytes.subarray(BHS_LENGTH, BHS_LENGTH + ahs),
        data: bytes.subarray(dataStart, dataStart + data),
      });
    }
  }

  #peek(length: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= length) return first.subarray(0, length);
    const joined = Buffer.concat(this.#chunks);
    this.#chunks = [joined];
    return joined.subarray(0, length);
  }

  #take(length: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length < length) this.#chunks = [Buffer.concat(this.#chunks)];
    const joined = this.#chunks[0] as Buffer;
    const taken = joined.subarray(0, length);
    if (joined.length === length) this.#chunks.shift();
    else this.#chunks[0] = joined.subarray(length);
    this.#buffered -= length;
    return taken;
  }
}

/** Serial number arithmetic (RFC 1982, 32 bits): is a before b? */
export function serialBefore(a: number, b: number): boolean {
  return a !== b && (b - a) >>> 0 < 0x80000000;
}
