// A planned stream of writes into an Instant Recovery write cache, the same in a child process
// that is killed with -9 in the middle of it (cache-writer-child.ts) and in the test that then
// checks what the resumed cache holds.
import { CHUNK, Stable, type StableHow } from '../../electron/nfs/volume.ts';

export const WRITER_DISK = 'disk-flat.vmdk';
/** 40 chunks and a bit: no multiple of a chunk. */
export const WRITER_CAPACITY = 40 * CHUNK + 4608;

export function writerBase(): Buffer {
  const bytes = Buffer.alloc(WRITER_CAPACITY);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 12)) & 255;
  return bytes;
}

/** Write `index` of the stream: anywhere (across chunk ends, past the end), some all zeros. */
export function plannedWrite(index: number): { offset: number; bytes: Buffer; stable: StableHow } {
  const mix = (index * 2654435761) >>> 0;
  const offset = mix % (WRITER_CAPACITY + 2 * CHUNK);
  const length = 1 + ((mix >>> 7) % (2 * CHUNK + 300));
  const bytes = Buffer.alloc(length, index % 7 === 3 ? 0 : 1 + (index % 250));
  const stable = ([Stable.unstable, Stable.unstable, Stable.dataSync, Stable.fileSync] as const)[index % 4] ?? Stable.unstable;
  return { offset, bytes, stable };
}

/** The steps: a new chunk (partial), the same chunk again, two new whole chunks stable, a marked chunk stable. */
export const ORDER_STEPS: { offset: number; length: number; stable: StableHow }[] = [
  { offset: 100, length: 5000, stable: Stable.unstable },
  { offset: 200, length: 300, stable: Stable.unstable },
  { offset: 2 * CHUNK, length: 2 * CHUNK, stable: Stable.dataSync },
  { offset: 3 * CHUNK + 7, length: 10, stable: Stable.fileSync },
];
