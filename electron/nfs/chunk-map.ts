// The persisted chunk map of one virtual disk's write cache: which 64 KiB chunks the cache file
// holds, the disk's size and how far the base still shows through (`baseEnd`). It is a log that
// is only appended to, so a record is in the kernel before the NFS reply and nothing is rewritten.
//
// File `<id>.map` (all integers big-endian):
//   header, 32 bytes:
//     0   8  magic "LBCHMAP1"
//     8   4  format version, 1
//     12  4  chunk size in bytes (65536)
//     16  8  capacity of the base disk in bytes
//     24  4  zero
//     28  4  CRC-32 of bytes 0..28
//   then records, 24 bytes each:
//     0   4  kind: 1 chunk cached (a = chunk index)
//                  2 size set (a = size, b = baseEnd) — a resize; chunks at or past the size are dropped
//                  3 size grown (a = size) — a write past the end: size = max(size, a)
//     4   8  a
//     12  8  b (zero when unused)
//     20  4  CRC-32 of bytes 0..20
// Replaying the records in order gives the state. A short or bad-CRC LAST record is a record torn
// by a power loss (the map was not flushed after it, so nothing it says was acknowledged as
// stable): it is dropped and the map cut after the last good record. A bad CRC followed by more
// records, an unknown kind or a value out of range makes the whole map refused.
import { writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import type { FileHandle } from 'node:fs/promises';
import { LifeboatError } from '../errors.ts';

export const MAP_MAGIC = 'LBCHMAP1';
export const MAP_VERSION = 1;
export const MAP_HEADER = 32;
export const MAP_RECORD = 24;
/** The largest file size the server offers (FSINFO maxfilesize). */
export const MAX_FILE_SIZE = 2 ** 52;

export type ChunkMapState = { size: number; baseEnd: number; chunks: Set<number> };
/** The state, how many bytes of the map are good, and why the rest was dropped (a torn last record). */
export type ReplayedMap = ChunkMapState & { goodLength: number; dropped: string | null };

export type MapRecord =
  { kind: 'chunk'; chunk: number } | { kind: 'set-size'; size: number; baseEnd: number } | { kind: 'grow'; size: number };

export function encodeHeader(chunkSize: number, capacity: number): Buffer {
  const header = Buffer.alloc(MAP_HEADER);
  header.write(MAP_MAGIC, 0, 'latin1');
  header.writeUInt32BE(MAP_VERSION, 8);
  header.writeUInt32BE(chunkSize, 12);
  header.writeBigUInt64BE(BigInt(capacity), 16);
  header.writeUInt32BE(crc32(header.subarray(0, 28)), 28);
  return header;
}

export function encodeRecords(records: MapRecord[]): Buffer {
  const out = Buffer.alloc(records.length * MAP_RECORD);
  records.forEach((record, index) => {
    const at = index * MAP_RECORD;
    const [kind, a, b] =
      record.kind === 'chunk' ? [1, record.chunk, 0] : record.kind === 'set-size' ? [2, record.size, record.baseEnd] : [3, record.size, 0];
    out.writeUInt32BE(kind, at);
    out.writeBigUInt64BE(BigInt(a), at + 4);
    out.writeBigUInt64BE(BigInt(b), at + 12);
    out.writeUInt32BE(crc32(out.subarray(at, at + 20)), at + 20);
  });
  return out;
}

/** The state a map file's bytes describe, or a refusal naming what is wrong. */
export function replayMap(bytes: Buffer, chunkSize: number, capacity: number, what: string): ReplayedMap {
  const damaged = (why: string): LifeboatError =>
    new LifeboatError('corrupt-backup', `the chunk map of ${what} is damaged (${why}): the session's writes cannot be trusted`);
  if (bytes.length < MAP_HEADER) throw damaged(`${bytes.length} bytes, shorter than its header`);
  if (bytes.toString('latin1', 0, 8) !== MAP_MAGIC) throw damaged('not a chunk map');
  if (bytes.readUInt32BE(28) !== crc32(bytes.subarray(0, 28))) throw damaged('header checksum');
  if (bytes.readUInt32BE(8) !== MAP_VERSION) throw damaged(`format version ${bytes.readUInt32BE(8)}`);
  if (bytes.readUInt32BE(12) !== chunkSize) throw damaged(`chunk size ${bytes.readUInt32BE(12)}, not ${chunkSize}`);
  const mapCapacity = Number(bytes.readBigUInt64BE(16));
  if (mapCapacity !== capacity)
    throw new LifeboatError('conflict', `the write cache of ${what} was made over a disk of ${mapCapacity} bytes, not ${capacity}`);
  const state: ReplayedMap = { size: capacity, baseEnd: capacity, chunks: new Set(), goodLength: bytes.length, dropped: null };
  for (let at = MAP_HEADER; at < bytes.length; at += MAP_RECORD) {
    const where = `record ${(at - MAP_HEADER) / MAP_RECORD}`;
    const last = at + MAP_RECORD >= bytes.length;
    const torn =
      at + MAP_RECORD > bytes.length
        ? `${bytes.length - at} bytes of a record`
        : bytes.readUInt32BE(at + 20) !== crc32(bytes.subarray(at, at + 20))
          ? `${where} with a bad checksum`
          : null;
    if (torn && !last) throw damaged(`${where} checksum, records follow it`);
    if (torn) {
      state.goodLength = at;
      state.dropped = `the last record was torn (${torn}), dropped: it was never flushed, so never acknowledged as stable`;
      break;
    }
    const kind = bytes.readUInt32BE(at);
    const a = bytes.readBigUInt64BE(at + 4);
    const b = bytes.readBigUInt64BE(at + 12);
    if (a > BigInt(MAX_FILE_SIZE) || b > BigInt(MAX_FILE_SIZE)) throw damaged(`${where} out of range`);
    const [first, second] = [Number(a), Number(b)];
    if (kind === 1) {
      if (first * chunkSize >= state.size) throw damaged(`${where} caches chunk ${first} past the end`);
      state.chunks.add(first);
    } else if (kind === 2) {
      if (second > Math.min(first, state.baseEnd)) throw damaged(`${where} shows the base past its end`);
      state.size = first;
      state.baseEnd = second;
      for (const chunk of state.chunks) if (chunk * chunkSize >= first) state.chunks.delete(chunk);
    } else if (kind === 3) {
      if (b !== 0n) throw damaged(`${where} is not a growth`);
      state.size = Math.max(state.size, first);
    } else throw damaged(`${where} of unknown kind ${kind}`);
  }
  return state;
}

/** Appends records at the end of the map with one pwrite on the calling thread: 24 bytes into
 * the page cache cost less than a trip through the thread pool, where the map's records queued
 * behind the data's writes (measured: the cache's write path at half speed). A pwrite that fails
 * (a full disk) leaves no gap: the length only advances past what was written. */
export class MapAppender {
  private readonly handle: FileHandle;
  private length: number;

  constructor(handle: FileHandle, length: number) {
    this.handle = handle;
    this.length = length;
  }

  append(records: MapRecord[]): void {
    const bytes = encodeRecords(records);
    for (let done = 0; done < bytes.length;) done += writeSync(this.handle.fd, bytes, done, bytes.length - done, this.length + done);
    this.length += bytes.length;
  }

  /** Flushes the map to the disk: the records appended so far are stable from then on. */
  async sync(): Promise<void> {
    await this.handle.datasync();
  }
}
