// Block maps: which stored bytes hold each block of a disk. One fixed-size record per block, so a
// merged map of a whole chain is one flat buffer indexed by block number (a zeroed record is a
// hole) that can be shared with worker threads without copying.
import { createHash } from 'node:crypto';
import { LifeboatError } from '../errors.ts';
import { isKnownCodec } from './codec.ts';

export const RECORD_BYTES = 60;
export const MAP_HEADER_BYTES = 16;
const MAP_MAGIC = 'LBMAP001';

export const BlockKind = { hole: 0, data: 1 } as const;

export type BlockRecord = {
  index: number;
  kind: number;
  codec: number;
  /** Sequence number of the restore point whose data file holds the bytes. */
  dataFile: number;
  offset: number;
  storedLength: number;
  rawLength: number;
  sha256: Uint8Array;
};

/** Raw bytes a merged-map record holds: its raw length when it is data, 0 for a hole. */
export function dataBytesAt(map: Uint8Array, index: number): number {
  const at = index * RECORD_BYTES;
  if (map[at + 4] !== BlockKind.data) return 0;
  return new DataView(map.buffer, map.byteOffset + at, RECORD_BYTES).getUint32(24, true);
}

export function writeRecord(target: Uint8Array, at: number, record: BlockRecord): void {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setUint32(at, record.index, true);
  view.setUint8(at + 4, record.kind);
  view.setUint8(at + 5, record.codec);
  view.setUint16(at + 6, 0, true);
  view.setUint32(at + 8, record.dataFile, true);
  view.setUint32(at + 12, record.offset % 2 ** 32, true);
  view.setUint32(at + 16, Math.floor(record.offset / 2 ** 32), true);
  view.setUint32(at + 20, record.storedLength, true);
  view.setUint32(at + 24, record.rawLength, true);
  target.set(record.sha256.subarray(0, 32), at + 28);
}

export function readRecord(source: Uint8Array, at: number): BlockRecord {
  const view = new DataView(source.buffer, source.byteOffset, source.byteLength);
  return {
    index: view.getUint32(at, true),
    kind: view.getUint8(at + 4),
    codec: view.getUint8(at + 5),
    dataFile: view.getUint32(at + 8, true),
    offset: view.getUint32(at + 12, true) + view.getUint32(at + 16, true) * 2 ** 32,
    storedLength: view.getUint32(at + 20, true),
    rawLength: view.getUint32(at + 24, true),
    sha256: source.slice(at + 28, at + 60),
  };
}

export function encodeMapFile(blockSize: number, records: BlockRecord[]): Buffer {
  const sorted = [...records].sort((a, b) => a.index - b.index);
  const out = Buffer.alloc(MAP_HEADER_BYTES + sorted.length * RECORD_BYTES);
  out.write(MAP_MAGIC, 0, 'latin1');
  out.writeUInt32LE(blockSize, 8);
  out.writeUInt32LE(sorted.length, 12);
  sorted.forEach((record, i) => writeRecord(out, MAP_HEADER_BYTES + i * RECORD_BYTES, record));
  return out;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Parses a map file; every structural lie (size, order, range, codec, hash) is corrupt-backup. */
export function decodeMapFile(
  bytes: Buffer,
  expected: { blockSize: number; blockCount: number; sha256: string; label: string },
): BlockRecord[] {
  const bad = (why: string): never => {
    throw new LifeboatError('corrupt-backup', `${expected.label}: block map is damaged (${why})`);
  };
  if (sha256Hex(bytes) !== expected.sha256) bad('its checksum does not match the manifest');
  if (bytes.length < MAP_HEADER_BYTES || bytes.toString('latin1', 0, 8) !== MAP_MAGIC) bad('bad header');
  if (bytes.readUInt32LE(8) !== expected.blockSize) bad('block size differs from the manifest');
  const count = bytes.readUInt32LE(12);
  if (bytes.length !== MAP_HEADER_BYTES + count * RECORD_BYTES) bad('length does not match its record count');
  const records: BlockRecord[] = [];
  let previous = -1;
  for (let i = 0; i < count; i++) {
    const record = readRecord(bytes, MAP_HEADER_BYTES + i * RECORD_BYTES);
    if (record.index <= previous) bad(`records out of order at ${i}`);
    if (record.index >= expected.blockCount) bad(`block ${record.index} is past the end of the disk`);
    if (record.kind > BlockKind.data || !isKnownCodec(record.codec)) bad(`record ${i} has an unknown kind or codec`);
    if (record.kind === BlockKind.data && (record.rawLength === 0 || record.rawLength > expected.blockSize))
      bad(`record ${i} has a bad length`);
    previous = record.index;
    records.push(record);
  }
  return records;
}
