// ONC RPC v2 (RFC 5531) over TCP: record marking (fragments of up to 2^31 - 1 bytes, the high
// bit of each header marking the last), calls parsed with their credentials, and the accepted
// and denied replies. A record larger than the server takes is refused before it is buffered.
import { LifeboatError } from '../errors.ts';
import { XdrError, XdrReader, XdrWriter } from './xdr.ts';

export const MSG_CALL = 0;
export const MSG_REPLY = 1;
export const AcceptStat = { success: 0, progUnavail: 1, progMismatch: 2, procUnavail: 3, garbageArgs: 4, systemErr: 5 } as const;
export const AUTH_NONE = 0;
export const AUTH_UNIX = 1;
const MAX_AUTH_BYTES = 400;

export type RpcCall = { xid: number; program: number; version: number; procedure: number; credFlavor: number; args: XdrReader };

/** Parses a call; a message that is not one throws XdrError (the caller drops the connection
 * when it cannot even find an xid to answer). */
export function parseCall(record: Uint8Array): RpcCall {
  const reader = new XdrReader(record);
  const xid = reader.u32('the xid');
  if (reader.u32('the message type') !== MSG_CALL) throw new XdrError('not a call');
  const rpcVersion = reader.u32('the RPC version');
  if (rpcVersion !== 2) throw new RpcVersionError(xid);
  const program = reader.u32('the program');
  const version = reader.u32('the program version');
  const procedure = reader.u32('the procedure');
  const credFlavor = reader.u32('the credential flavour');
  reader.opaque(MAX_AUTH_BYTES, 'the credential');
  reader.u32('the verifier flavour');
  reader.opaque(MAX_AUTH_BYTES, 'the verifier');
  return { xid, program, version, procedure, credFlavor, args: reader };
}

/** A call of an RPC version other than 2: answered MSG_DENIED / RPC_MISMATCH. */
export class RpcVersionError extends LifeboatError {
  readonly xid: number;
  constructor(xid: number) {
    super('bad-request', 'RPC version is not 2');
    this.xid = xid;
  }
}

function replyHead(xid: number): XdrWriter {
  // Accepted, with a null verifier.
  return new XdrWriter().u32(xid).u32(MSG_REPLY).u32(0).u32(AUTH_NONE).u32(0);
}

/** The reply's head and the procedure's body (in parts), framed together by `frame`. */
export function successReply(xid: number, body: Uint8Array | Uint8Array[]): Uint8Array[] {
  return [replyHead(xid).u32(AcceptStat.success).bytes(), ...(Array.isArray(body) ? body : [body])];
}

export function errorReply(xid: number, stat: number, mismatch?: { low: number; high: number }): Buffer {
  const writer = replyHead(xid).u32(stat);
  if (mismatch) writer.u32(mismatch.low).u32(mismatch.high);
  return writer.bytes();
}

export function deniedVersionReply(xid: number): Buffer {
  return new XdrWriter().u32(xid).u32(MSG_REPLY).u32(1).u32(0).u32(2).u32(2).bytes();
}

/** One reply as a single last fragment: the record mark, then the reply's parts as they are
 * (written together, so large data is not copied into one buffer first). */
export function frame(message: Uint8Array | Uint8Array[]): Uint8Array[] {
  const parts = Array.isArray(message) ? message : [message];
  const mark = Buffer.alloc(4);
  mark.writeUInt32BE((0x80000000 | parts.reduce((sum, part) => sum + part.length, 0)) >>> 0, 0);
  return [mark, ...parts];
}

/** Collects fragments from a stream into records. */
export class RecordReader {
  private readonly maxRecord: number;
  private pending: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private recordLength = 0;

  constructor(maxRecord: number) {
    this.maxRecord = maxRecord;
  }

  /** Feeds bytes; returns the records they complete. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const records: Buffer[] = [];
    for (let guard = 0; guard < 1_000_000 && this.pending.length >= 4; guard++) {
      const header = this.pending.readUInt32BE(0);
      const last = (header & 0x80000000) !== 0;
      const length = header & 0x7fffffff;
      if (this.recordLength + length > this.maxRecord) throw new XdrError(`a record of more than ${this.maxRecord} bytes`);
      if (this.pending.length < 4 + length) break;
      this.fragments.push(this.pending.subarray(4, 4 + length));
      this.recordLength += length;
      this.pending = this.pending.subarray(4 + length);
      if (last) {
        records.push(Buffer.concat(this.fragments));
        this.fragments = [];
        this.recordLength = 0;
      }
    }
    return records;
  }
}
