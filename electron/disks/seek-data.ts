// Where a file holds data and where it has holes, by lseek SEEK_DATA / SEEK_HOLE (the
// native/seek-data addon: Node has no lseek). A hole reads as zeros, so a thin disk's backup can
// skip it unread. Where the addon is not built or the file system cannot say, the whole range is
// data (read in full, as before) and one log line says why: this never fails a backup.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Extent } from './disk.ts';

/** The addon's one function, numbered as native/seek-data/seek_data.c expects. */
export const Whence = { data: 0, hole: 1 } as const;
export type Whence = (typeof Whence)[keyof typeof Whence];

export interface SeekNative {
  /** Next data or hole at or after `offset`; -1 when there is none (ENXIO). Throws with `errno`. */
  seek(fd: number, offset: number, whence: Whence): number;
  /** sync_file_range(SYNC_FILE_RANGE_WRITE): start writing a range's dirty pages back, without
   * waiting (electron/workers/restore-io-hints.ts). Absent from builds older than the restore's use of it. */
  startWriteback?(fd: number, offset: number, length: number): void;
  /** posix_fadvise(WILLNEED): read a range into the page cache in the background. Absent from older builds. */
  willNeed?(fd: number, offset: number, length: number): void;
  /** fallocate(mode 0): reserve a range's room now (electron/restore/reserve-room.ts). Throws with
   * `errno`. Absent from older builds. */
  allocate?(fd: number, offset: number, length: number): void;
  /** libzstd's version number, 0 when the system has no libzstd.so.1 (electron/workers/zstd-into.ts). Absent from older builds. */
  zstdVersion?(): number;
  /** Decodes a zstd frame into `into`; the bytes decoded. Throws with zstd's error name. Absent from older builds. */
  zstdDecompress?(frame: Uint8Array, into: Uint8Array): number;
}

const built = 'native/seek-data/build/Release/seek_data.node';
/** From the source tree (electron/fs/) and from the bundle (dist/electron/): both two levels down. */
const candidate = fileURLToPath(new URL('../../' + built, import.meta.url));

function load(): SeekNative | string {
  if (process.platform !== 'linux') return `SEEK_DATA is read only on Linux (this is ${process.platform})`;
  // A packaged app reads native modules from app.asar.unpacked, not from the archive.
  const path = candidate.replace(/app\.asar([/\\])/, 'app.asar.unpacked$1');
  if (!existsSync(path)) return `the SEEK_DATA addon is not built (${built}): run npm install (it needs g++, make and python3)`;
  try {
    return createRequire(import.meta.url)(path) as SeekNative;
  } catch (error) {
    return `the SEEK_DATA addon ${path} does not load: ${error instanceof Error ? error.message : String(error)}`;
  }
}

let loaded: SeekNative | string | undefined;

/** The addon (loaded once), or the reason it cannot be used here. */
export function seekNative(): SeekNative | string {
  loaded ??= load();
  return loaded;
}

let warned = false;

function warnOnce(reason: string): void {
  if (warned) return;
  warned = true;
  console.warn(`lifeboat: holes of thin disks are not skipped, every byte is read: ${reason}`);
}

/**
 * Data and holes of [start, end) of the open file `fd`, in file positions, in order, neighbours
 * merged. Past the end of the file is a hole (it reads as zeros). `native` is the seam through
 * which tests make the addon unavailable or the file system unable to answer.
 */
export function fileExtents(fd: number, start: number, end: number, native: SeekNative | string = seekNative()): Extent[] {
  if (end <= start) return [];
  if (typeof native === 'string') {
    warnOnce(native);
    return [{ offset: start, length: end - start, state: 'data' }];
  }
  try {
    return walk(native, fd, start, end);
  } catch (error) {
    const errno = (error as { errno?: unknown }).errno;
    if (typeof errno !== 'number') throw error;
    warnOnce(`the file system does not answer SEEK_DATA (${error instanceof Error ? error.message : String(error)})`);
    return [{ offset: start, length: end - start, state: 'data' }];
  }
}

/** Alternates SEEK_DATA and SEEK_HOLE; each step moves `position` forward, so it ends. */
function walk(native: SeekNative, fd: number, start: number, end: number): Extent[] {
  const extents: Extent[] = [];
  const push = (state: Extent['state'], from: number, to: number): void => {
    const last = extents.at(-1);
    if (last && last.state === state) last.length += to - from;
    else extents.push({ offset: from, length: to - from, state });
  };
  let position = start;
  while (position < end) {
    const data = native.seek(fd, position, Whence.data);
    const dataStart = data < 0 ? end : Math.min(data, end);
    if (dataStart < position) throw Object.assign(new Error(`lseek: SEEK_DATA went back from ${position} to ${data}`), { errno: 0 });
    if (dataStart > position) push('zero', position, dataStart);
    position = dataStart;
    if (position >= end) break;
    // Every file ends in a hole (its end), so SEEK_HOLE from a data byte finds one after it.
    const hole = native.seek(fd, position, Whence.hole);
    const dataEnd = hole < 0 ? end : Math.min(hole, end);
    if (dataEnd <= position) throw Object.assign(new Error(`lseek: SEEK_HOLE at ${position} answered ${hole}`), { errno: 0 });
    push('data', position, dataEnd);
    position = dataEnd;
  }
  return extents;
}
