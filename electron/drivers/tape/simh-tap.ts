// SIMH magtape images (.tap): a tape is a file of objects. A data record is its 32-bit
// little-endian length word, the bytes (padded to even), and the length word again; a length of
// 0 is a tape mark; 0xFFFFFFFF is end of medium; 0xFFFFFFFE an erase gap. The top four bits of a
// length word are its class: 0 a good record, 8 a record the drive could not read cleanly.
import { LifeboatError } from '../../errors.ts';
import { TapeMediumError } from './tape-driver.ts';

export const TAPE_MARK_WORD = 0x00000000;
export const END_OF_MEDIUM_WORD = 0xffffffff;
export const ERASE_GAP_WORD = 0xfffffffe;
const CLASS_GOOD = 0x0;
const CLASS_BAD_DATA = 0x8;
const LENGTH_MASK = 0x0fffffff;
/** Reserved markers 0xFF000000..0xFFFFFFFD are refused as damage. */
const RESERVED_FROM = 0xff000000;

/** Reads up to `length` bytes at `position`; fewer at the end of the image. */
export type ImageReader = (position: number, length: number) => Promise<Uint8Array>;

/** An ImageReader over an open file (a FileHandle). */
export function fileImageReader(handle: {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}): ImageReader {
  return async (position, length) => {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    return buffer.subarray(0, bytesRead);
  };
}

export type TapeObject =
  | { kind: 'record'; data: Uint8Array; next: number }
  | { kind: 'mark'; next: number }
  | { kind: 'gap'; next: number }
  /** No more objects: the image ends here (blank tape past the last write) or is marked so. */
  | { kind: 'end' };

export function paddedLength(length: number): number {
  return length + (length & 1);
}

/** The bytes of one good data record. */
export function encodeRecord(data: Uint8Array): Buffer {
  if (data.length === 0 || data.length > LENGTH_MASK)
    throw new LifeboatError('bad-request', `a tape record holds 1 to ${LENGTH_MASK} bytes, not ${data.length}`);
  const out = Buffer.alloc(8 + paddedLength(data.length));
  out.writeUInt32LE(data.length, 0);
  out.set(data, 4);
  out.writeUInt32LE(data.length, 4 + paddedLength(data.length));
  return out;
}

export function encodeTapeMark(): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32LE(TAPE_MARK_WORD, 0);
  return out;
}

export { TapeMediumError, type TapeFault } from './tape-driver.ts';

/** One object at `position`. `skipData` reads just the length words (for spacing forward). */
export async function readObject(
  read: ImageReader,
  position: number,
  options: { skipData?: boolean; label: string },
): Promise<TapeObject & { dataLength?: number }> {
  const head = await read(position, 4);
  if (head.length === 0) return { kind: 'end' };
  if (head.length < 4)
    throw new TapeMediumError(
      `${options.label}: the tape ends in the middle of a block (a length word is cut at byte ${position})`,
      position,
      'cut',
    );
  const word = Buffer.from(head.buffer, head.byteOffset, 4).readUInt32LE(0);
  if (word === TAPE_MARK_WORD) return { kind: 'mark', next: position + 4 };
  if (word === END_OF_MEDIUM_WORD) return { kind: 'end' };
  if (word === ERASE_GAP_WORD) return { kind: 'gap', next: position + 4 };
  if (word >= RESERVED_FROM)
    throw new TapeMediumError(`${options.label}: unknown marker 0x${word.toString(16)} at byte ${position}`, position, 'damaged');
  const recordClass = word >>> 28;
  const length = word & LENGTH_MASK;
  if (recordClass !== CLASS_GOOD && recordClass !== CLASS_BAD_DATA) {
    throw new TapeMediumError(
      `${options.label}: record of class ${recordClass} at byte ${position} is not a data record`,
      position,
      'damaged',
    );
  }
  if (length === 0) throw new TapeMediumError(`${options.label}: empty record at byte ${position}`, position, 'damaged');
  const trailerAt = position + 4 + paddedLength(length);
  const trailer = await read(trailerAt, 4);
  if (trailer.length < 4)
    throw new TapeMediumError(
      `${options.label}: the tape ends in the middle of a block (record at byte ${position} is cut)`,
      position,
      'cut',
    );
  if (Buffer.from(trailer.buffer, trailer.byteOffset, 4).readUInt32LE(0) !== word) {
    throw new TapeMediumError(
      `${options.label}: record at byte ${position} has mismatched length words (damaged image)`,
      position,
      'damaged',
    );
  }
  if (recordClass === CLASS_BAD_DATA)
    throw new TapeMediumError(`${options.label}: medium error, the block at byte ${position} cannot be read`, position, 'medium', length);
  const next = trailerAt + 4;
  if (options.skipData) return { kind: 'record', data: new Uint8Array(0), next, dataLength: length };
  const data = await read(position + 4, length);
  if (data.length < length)
    throw new TapeMediumError(`${options.label}: the tape ends in the middle of a block at byte ${position}`, position, 'cut');
  return { kind: 'record', data, next, dataLength: length };
}

/** Marks the record at `position` as unreadable (class 8), as a drive's error log would. */
export function badRecordWord(length: number): number {
  return ((CLASS_BAD_DATA << 28) | (length & LENGTH_MASK)) >>> 0;
}
