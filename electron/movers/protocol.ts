// The wire protocol between the engine and a data mover (`lifeboat mover`), over one TLS
// connection the mover opens to the engine's mover port. Version 1.
//
// A frame is:  u32 BE header length | header (UTF-8 JSON, one of the messages below)
//              | u32 BE payload length | payload bytes (only `block` carries any)
// Lengths are bounded (MAX_HEADER_BYTES, MAX_PAYLOAD_BYTES); a frame that breaks a bound, is not
// JSON or is not one of the messages ends the connection with a MoverProtocolError.
//
// A connection without a client certificate may only send `join` (a one-time token and the
// public key to certify); the engine answers `joined` (the certificate and the engine's CA) or
// `refused`, and closes. A connection with a certificate the engine issued starts with `hello`
// (what the mover reaches), answered by `welcome` or `refused`.
//
// A disk task: `task` → the engine streams `block`s in ascending index from `resumeFrom` (holes
// are never sent: the file is sparse) and at most `window` payload bytes ahead of the `credit`
// the mover gave back for blocks it wrote; `end` when all are sent. The mover decompresses,
// checks length and SHA-256 and writes each block; after each sync it sends `checkpoint` (every
// block below `watermark` is on stable storage); after `end` it syncs and sends `done`. Anything
// wrong with a block or the target ends the task with `failed`, not the connection. `cancel`
// stops a task (the mover answers `failed` with code 'cancelled'). The engine `ping`s; either
// side that hears nothing for the timeout treats the connection as lost.
import { z } from 'zod';
import { ErrorCode } from '../../shared/contract.ts';

export const MOVER_PROTOCOL = 1;
export const MAX_HEADER_BYTES = 64 * 1024;
/** A block (at most 4 MiB stored, plus what sealing and a codec that did not shrink it add). */
export const MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;

export class MoverProtocolError extends Error {}

const Transport = z.enum(['san', 'hotadd', 'nbd']);
const TaskId = z.string().min(1).max(200);
const Pem = z.string().min(1).max(16_384);
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
/** A path inside a datastore: relative, '/'-separated, no '.' or '..' parts, no NUL. */
export const DatastorePath = z
  .string()
  .min(1)
  .max(1024)
  .refine(
    (path) =>
      !path.startsWith('/') &&
      !path.includes('\0') &&
      !path.includes('\\') &&
      path.split('/').every((part) => part !== '' && part !== '.' && part !== '..'),
    'a datastore path is relative, with no empty, "." or ".." parts',
  );
const Milliseconds = z.number().nonnegative();

export const MoverMessage = z.discriminatedUnion('type', [
  // mover → engine
  z.object({ type: z.literal('join'), token: z.string().min(1).max(1024), publicKeyPem: Pem }).strict(),
  z
    .object({
      type: z.literal('hello'),
      protocol: z.number().int(),
      transports: z.array(Transport).max(3),
      datastores: z.record(z.string().min(1).max(200), z.string().min(1).max(4096)),
      slots: z.number().int().min(1).max(64),
      version: z.string().max(100),
    })
    .strict(),
  z
    .object({
      type: z.literal('checkpoint'),
      task: TaskId,
      watermark: z.number().int().nonnegative(),
      bytesWritten: z.number().nonnegative(),
      /** Busy time since the last checkpoint, for the bottleneck display. */
      stageMs: z.object({ decompress: Milliseconds, verify: Milliseconds, write: Milliseconds }).strict(),
    })
    .strict(),
  z.object({ type: z.literal('credit'), task: TaskId, bytes: z.number().int().positive() }).strict(),
  z.object({ type: z.literal('done'), task: TaskId, bytesWritten: z.number().nonnegative() }).strict(),
  z.object({ type: z.literal('failed'), task: TaskId, code: ErrorCode, message: z.string().max(4000) }).strict(),
  z.object({ type: z.literal('renew') }).strict(),
  z.object({ type: z.literal('pong') }).strict(),
  // engine → mover
  z.object({ type: z.literal('joined'), moverName: z.string().max(80), certificatePem: Pem, caPem: Pem }).strict(),
  z
    .object({ type: z.literal('welcome'), moverName: z.string().max(80), certificateExpiresAt: z.string(), renewAfter: z.string() })
    .strict(),
  z.object({ type: z.literal('refused'), code: ErrorCode, message: z.string().max(4000) }).strict(),
  z
    .object({
      type: z.literal('task'),
      task: TaskId,
      jobId: z.string().max(200),
      disk: z.string().max(200),
      datastore: z.string().min(1).max(200),
      path: DatastorePath,
      capacity: z.number().int().positive(),
      blockSize: z.number().int().positive().max(MAX_PAYLOAD_BYTES),
      /** The first block to write; blocks below it are on stable storage already. */
      resumeFrom: z.number().int().nonnegative(),
      /** true: create the file (or replace a placeholder) at full size; false: it exists at full size. */
      create: z.boolean(),
      /** Payload bytes the engine may send beyond the credit given back. */
      window: z.number().int().positive(),
    })
    .strict(),
  z
    .object({
      type: z.literal('block'),
      task: TaskId,
      index: z.number().int().nonnegative(),
      codec: z.number().int().min(0).max(255),
      rawLength: z.number().int().positive(),
      sha256: Sha256Hex,
    })
    .strict(),
  z.object({ type: z.literal('end'), task: TaskId }).strict(),
  z.object({ type: z.literal('cancel'), task: TaskId }).strict(),
  z.object({ type: z.literal('certificate'), certificatePem: Pem, certificateExpiresAt: z.string(), renewAfter: z.string() }).strict(),
  z.object({ type: z.literal('ping') }).strict(),
]);
export type MoverMessage = z.infer<typeof MoverMessage>;
export type MessageOf<T extends MoverMessage['type']> = Extract<MoverMessage, { type: T }>;
export type Frame = { message: MoverMessage; payload: Buffer };

/** One frame's bytes. */
export function encodeFrame(message: MoverMessage, payload: Uint8Array = new Uint8Array(0)): Buffer[] {
  const header = Buffer.from(JSON.stringify(message), 'utf8');
  if (header.length > MAX_HEADER_BYTES) throw new MoverProtocolError(`a ${message.type} header of ${header.length} bytes is too long`);
  if (payload.length > MAX_PAYLOAD_BYTES) throw new MoverProtocolError(`a payload of ${payload.length} bytes is too long`);
  const headerLength = Buffer.alloc(4);
  headerLength.writeUInt32BE(header.length);
  const payloadLength = Buffer.alloc(4);
  payloadLength.writeUInt32BE(payload.length);
  return [headerLength, header, payloadLength, Buffer.from(payload.buffer, payload.byteOffset, payload.length)];
}

/** Cuts a byte stream into checked frames; keeps at most one frame's bytes, and joins the
 * chunks of a frame once, when all of it has arrived (a 4 MiB block comes in many TLS records). */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** The frames completed by `chunk`; throws MoverProtocolError on the first bad one. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.next();
      if (!frame) return frames;
      frames.push(frame);
    }
  }

  /** The u32 at `offset` of the buffered bytes (which hold at least offset + 4). */
  private uint32At(offset: number): number {
    return this.joined(offset + 4).readUInt32BE(offset);
  }

  /** The first `length` buffered bytes as one buffer (the chunks are joined only when the first
   * is too short, so a frame's chunks are joined once). */
  private joined(length: number): Buffer {
    if ((this.chunks[0] as Buffer).length < length) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return (this.chunks[0] as Buffer).subarray(0, length);
  }

  /** Drops the first `length` bytes, which joined() has put in the first chunk. */
  private take(length: number): void {
    const [first, ...rest] = this.chunks as [Buffer, ...Buffer[]];
    this.chunks = first.length === length ? rest : [first.subarray(length), ...rest];
    this.buffered -= length;
  }

  private next(): Frame | null {
    if (this.buffered < 4) return null;
    const headerLength = this.uint32At(0);
    if (headerLength === 0 || headerLength > MAX_HEADER_BYTES)
      throw new MoverProtocolError(`a header length of ${headerLength} bytes is out of bounds`);
    if (this.buffered < 8 + headerLength) return null;
    const payloadLength = this.uint32At(4 + headerLength);
    if (payloadLength > MAX_PAYLOAD_BYTES) throw new MoverProtocolError(`a payload length of ${payloadLength} bytes is out of bounds`);
    if (this.buffered < 8 + headerLength + payloadLength) return null;
    const whole = this.joined(8 + headerLength + payloadLength);
    let parsed: unknown;
    try {
      parsed = JSON.parse(whole.subarray(4, 4 + headerLength).toString('utf8'));
    } catch {
      throw new MoverProtocolError('a frame header is not JSON');
    }
    const checked = MoverMessage.safeParse(parsed);
    if (!checked.success)
      throw new MoverProtocolError(
        `a frame header is not a message of protocol ${MOVER_PROTOCOL}: ${checked.error.issues[0]?.message ?? ''}`,
      );
    // A copy: the payload outlives the decoder's buffer.
    const payload = Buffer.from(whole.subarray(8 + headerLength));
    this.take(8 + headerLength + payloadLength);
    if ((checked.data.type === 'block') !== payloadLength > 0)
      throw new MoverProtocolError(`a ${checked.data.type} frame carries ${payloadLength} payload bytes`);
    return { message: checked.data, payload };
  }
}
