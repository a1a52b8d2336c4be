// What Lifeboat writes on a tape (docs/formats/tape.md). File 0 is the label; then one data file
// per restore point copy, a stream of self-describing frames (each stored block with its length,
// codec and SHA-256); then the tape's own catalog, so a tape from elsewhere can be catalogued by
// reading it. Streams are cut into the drive's fixed blocks; the last block is zero-padded.
import { z } from 'zod';
import { LifeboatError } from '../errors.ts';
import { Manifest } from '../repository/manifest.ts';
import { isKnownCodec } from '../repository/codec.ts';
import type { TapeDrive } from '../drivers/tape/tape-driver.ts';

export const TAPE_LABEL_FORMAT = 'lifeboat-tape';
export const FRAME_HEADER_BYTES = 56;
const FRAME_MAGIC = 'LBTF';
export const FrameKind = { block: 1, end: 2 } as const;

export const TapeLabel = z.object({
  format: z.literal(TAPE_LABEL_FORMAT),
  version: z.literal(1),
  barcode: z.string().min(1),
  mediaSetId: z.string().min(1),
  pool: z.string(),
  /** 1 for the set's first tape. */
  sequence: z.number().int().positive(),
  writtenAt: z.string(),
  blockSize: z.number().int().positive(),
});
export type TapeLabel = z.infer<typeof TapeLabel>;

export type Frame = { kind: number; codec: number; uniqueId: number; rawLength: number; storedLength: number; sha256: Uint8Array };

export function encodeFrameHeader(frame: Frame): Buffer {
  const out = Buffer.alloc(FRAME_HEADER_BYTES);
  out.write(FRAME_MAGIC, 0, 'latin1');
  out.writeUInt8(frame.kind, 4);
  out.writeUInt8(frame.codec, 5);
  out.writeUInt32LE(frame.uniqueId, 8);
  out.writeUInt32LE(frame.rawLength, 12);
  out.writeUInt32LE(frame.storedLength, 16);
  out.set(frame.sha256.subarray(0, 32), 24);
  return out;
}

export function decodeFrameHeader(bytes: Uint8Array, label: string): Frame {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < FRAME_HEADER_BYTES || buffer.toString('latin1', 0, 4) !== FRAME_MAGIC)
    throw new LifeboatError('corrupt-backup', `${label}: not a Lifeboat block frame`);
  const frame = {
    kind: buffer.readUInt8(4),
    codec: buffer.readUInt8(5),
    uniqueId: buffer.readUInt32LE(8),
    rawLength: buffer.readUInt32LE(12),
    storedLength: buffer.readUInt32LE(16),
    sha256: Uint8Array.prototype.slice.call(buffer, 24, 56),
  };
  if (frame.kind !== FrameKind.block && frame.kind !== FrameKind.end)
    throw new LifeboatError('corrupt-backup', `${label}: frame of unknown kind ${frame.kind}`);
  if (!isKnownCodec(frame.codec)) throw new LifeboatError('corrupt-backup', `${label}: frame with unknown codec ${frame.codec}`);
  if (
    frame.kind === FrameKind.block &&
    (frame.storedLength === 0 || frame.rawLength === 0 || frame.storedLength > 64 * 1024 * 1024 || frame.rawLength > 64 * 1024 * 1024)
  ) {
    throw new LifeboatError(
      'corrupt-backup',
      `${label}: frame with impossible lengths (${frame.storedLength} stored, ${frame.rawLength} raw)`,
    );
  }
  return frame;
}

// ---- locations and maps, packed: what the catalog keeps per block ----

/** Per unique block: tape sequence (u16, 0 = not known yet), file (u16), offset of the frame in
 * that file (u48), stored length (u32). */
export const LOCATION_BYTES = 16;
export const UNKNOWN_TAPE = 0;

export type BlockLocation = { tape: number; file: number; offset: number; storedLength: number };

export function writeLocation(target: Buffer, uniqueId: number, location: BlockLocation): void {
  const at = uniqueId * LOCATION_BYTES;
  target.writeUInt16LE(location.tape, at);
  target.writeUInt16LE(location.file, at + 2);
  target.writeUIntLE(location.offset, at + 4, 6);
  target.writeUInt32LE(location.storedLength, at + 12);
}

export function readLocation(source: Buffer, uniqueId: number): BlockLocation {
  const at = uniqueId * LOCATION_BYTES;
  return {
    tape: source.readUInt16LE(at),
    file: source.readUInt16LE(at + 2),
    offset: source.readUIntLE(at + 4, 6),
    storedLength: source.readUInt32LE(at + 12),
  };
}

/** Merges locations learned from another tape of the set into `target` (both equally long). */
export function mergeLocations(target: Buffer, learned: Buffer): void {
  for (let id = 0; id * LOCATION_BYTES < learned.length; id++) {
    if (learned.readUInt16LE(id * LOCATION_BYTES) !== UNKNOWN_TAPE)
      learned.copy(target, id * LOCATION_BYTES, id * LOCATION_BYTES, (id + 1) * LOCATION_BYTES);
  }
}

/** Disk maps: per disk block a u32, 0 for a hole, else unique block id + 1. */
export const MAP_ENTRY_BYTES = 4;

// ---- the tape's own catalog (last file of every tape) ----

export const TapeCopyEntry = z.object({
  manifest: Manifest,
  uniqueBlocks: z.number().int().nonnegative(),
  storedBytes: z.number().nonnegative(),
  /** Byte lengths, in order, of the maps then locations sections that follow the JSON. */
  mapsBytes: z.number().int().nonnegative(),
  locationsBytes: z.number().int().nonnegative(),
});
export type TapeCopyEntry = z.infer<typeof TapeCopyEntry>;

export const TapeCatalogHeader = z.object({
  format: z.literal('lifeboat-tape-catalog'),
  version: z.literal(1),
  label: TapeLabel,
  copies: z.array(TapeCopyEntry),
});
export type TapeCatalogHeader = z.infer<typeof TapeCatalogHeader>;

export type TapeCopyData = { entry: TapeCopyEntry; maps: Buffer; locations: Buffer };

export function encodeTapeCatalog(
  label: TapeLabel,
  copies: { manifest: Manifest; uniqueBlocks: number; storedBytes: number; maps: Buffer; locations: Buffer }[],
): Buffer {
  const header: TapeCatalogHeader = {
    format: 'lifeboat-tape-catalog',
    version: 1,
    label,
    copies: copies.map((copy) => ({
      manifest: copy.manifest,
      uniqueBlocks: copy.uniqueBlocks,
      storedBytes: copy.storedBytes,
      mapsBytes: copy.maps.length,
      locationsBytes: copy.locations.length,
    })),
  };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length, 0);
  return Buffer.concat([length, json, ...copies.flatMap((copy) => [copy.maps, copy.locations])]);
}

export function decodeTapeCatalog(bytes: Buffer, label: string): { header: TapeCatalogHeader; copies: TapeCopyData[] } {
  const bad = (why: string): never => {
    throw new LifeboatError('corrupt-backup', `${label}: the tape's catalog is damaged (${why})`);
  };
  if (bytes.length < 4) bad('too short');
  const jsonLength = bytes.readUInt32LE(0);
  if (jsonLength > bytes.length - 4) bad('its header runs past its end');
  let json: unknown = null;
  try {
    json = JSON.parse(bytes.toString('utf8', 4, 4 + jsonLength));
  } catch {
    bad('its header is not JSON');
  }
  const parsed = TapeCatalogHeader.safeParse(json);
  if (!parsed.success) return bad(parsed.error.issues[0]?.message ?? 'bad header');
  let at = 4 + jsonLength;
  const copies: TapeCopyData[] = [];
  for (const entry of parsed.data.copies) {
    const blockCount = entry.manifest.disks.reduce((sum, disk) => sum + Math.ceil(disk.capacity / entry.manifest.blockSize), 0);
    if (entry.mapsBytes !== blockCount * MAP_ENTRY_BYTES || entry.locationsBytes !== entry.uniqueBlocks * LOCATION_BYTES)
      bad(`sizes of the maps of ${entry.manifest.vmName} do not add up`);
    if (at + entry.mapsBytes + entry.locationsBytes > bytes.length) bad(`the maps of ${entry.manifest.vmName} are cut`);
    const maps = bytes.subarray(at, at + entry.mapsBytes);
    at += entry.mapsBytes;
    const locations = bytes.subarray(at, at + entry.locationsBytes);
    at += entry.locationsBytes;
    for (let i = 0; i < maps.length; i += MAP_ENTRY_BYTES)
      if (maps.readUInt32LE(i) > entry.uniqueBlocks) bad(`a map of ${entry.manifest.vmName} names a block it does not have`);
    copies.push({ entry, maps: Buffer.from(maps), locations: Buffer.from(locations) });
  }
  return { header: parsed.data, copies };
}

// ---- byte streams over fixed-size tape blocks ----

/** Packs a byte stream into the drive's fixed blocks; knows each byte's offset in the file. */
export class BlockStreamWriter {
  private readonly drive: TapeDrive;
  private readonly buffer: Buffer;
  private filled = 0;
  /** Bytes of this file written so far (flushed or buffered). */
  offset = 0;
  earlyWarning = false;
  private readonly signal: AbortSignal | undefined;

  constructor(drive: TapeDrive, signal?: AbortSignal) {
    this.drive = drive;
    this.signal = signal;
    this.buffer = Buffer.alloc(drive.blockSize);
  }

  async write(bytes: Uint8Array): Promise<void> {
    let taken = 0;
    while (taken < bytes.length) {
      const take = Math.min(bytes.length - taken, this.buffer.length - this.filled);
      this.buffer.set(bytes.subarray(taken, taken + take), this.filled);
      this.filled += take;
      taken += take;
      this.offset += take;
      if (this.filled === this.buffer.length) await this.flushBlock();
    }
  }

  private async flushBlock(): Promise<void> {
    const { earlyWarning } = await this.drive.write(this.buffer, this.signal);
    this.earlyWarning ||= earlyWarning;
    this.filled = 0;
  }

  /** Pads the last block with zeros and ends the file with a filemark. */
  async close(): Promise<void> {
    if (this.filled > 0) {
      this.buffer.fill(0, this.filled);
      await this.flushBlock();
    }
    await this.drive.writeFilemarks(1);
  }
}

/** Reads a file's byte stream back from its blocks, from the current position to its filemark. */
export class BlockStreamReader {
  private readonly drive: TapeDrive;
  private readonly signal: AbortSignal | undefined;
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  /** Offset in the file of the next byte `take` returns. */
  offset: number;
  private skipFirst: number;

  constructor(drive: TapeDrive, startOffset: number, signal?: AbortSignal) {
    this.drive = drive;
    this.signal = signal;
    this.offset = startOffset;
    // A start inside a block: the caller located to that block; skip to the byte.
    this.skipFirst = startOffset % drive.blockSize;
  }

  private async fill(): Promise<boolean> {
    const next = await this.drive.read(this.signal);
    if (next.kind !== 'block') return false;
    this.chunk = next.data;
    this.at = this.skipFirst;
    this.skipFirst = 0;
    return true;
  }

  /** Bytes that span tape blocks are put together here, reused by the next take that spans. */
  private joined: Uint8Array = new Uint8Array(0);

  /** Exactly `length` bytes, or null when the file ends first: a view of a tape block, or of a
   * buffer this reader reuses, valid until the next take or skip (copy what is kept). */
  async take(length: number): Promise<Uint8Array | null> {
    if (this.at + length <= this.chunk.length) {
      const out = this.chunk.subarray(this.at, this.at + length);
      this.at += length;
      this.offset += length;
      return out;
    }
    if (this.joined.length < length) this.joined = new Uint8Array(length);
    const out = this.joined.subarray(0, length);
    let done = 0;
    while (done < length) {
      if (this.at >= this.chunk.length && !(await this.fill())) return null;
      const take = Math.min(length - done, this.chunk.length - this.at);
      // Plain Uint8Arrays on both sides: set() between Buffers takes a path several times slower.
      out.set(new Uint8Array(this.chunk.buffer, this.chunk.byteOffset + this.at, take), done);
      this.at += take;
      done += take;
    }
    this.offset += length;
    return out;
  }

  /** Skips `length` bytes (reading whatever blocks they span). */
  async skip(length: number): Promise<boolean> {
    let left = length;
    while (left > 0) {
      if (this.at >= this.chunk.length && !(await this.fill())) return false;
      const step = Math.min(left, this.chunk.length - this.at);
      this.at += step;
      left -= step;
    }
    this.offset += length;
    return true;
  }
}

export function encodeLabelBlock(label: TapeLabel, blockSize: number): Buffer {
  const json = Buffer.from(JSON.stringify(label));
  if (json.length > blockSize) throw new LifeboatError('internal', 'tape label does not fit in a block');
  const block = Buffer.alloc(blockSize);
  json.copy(block);
  return block;
}

export function decodeLabelBlock(block: Uint8Array, barcode: string): TapeLabel {
  const end = block.indexOf(0);
  let json: unknown = null;
  try {
    json = JSON.parse(Buffer.from(block.subarray(0, end < 0 ? block.length : end)).toString('utf8'));
  } catch {
    json = null;
  }
  const parsed = TapeLabel.safeParse(json);
  if (!parsed.success)
    throw new LifeboatError('corrupt-backup', `tape ${barcode} has no Lifeboat label (blank, or written by something else)`);
  return parsed.data;
}
