// A restored disk's room reserved before its blocks are written: fallocate (the seek-data addon)
// over every run of blocks that hold data, so the block workers overwrite room the file system
// has already laid out instead of making it allocate extents as the writes come back. On this
// machine's ext4, 2 GiB written and fdatasync'd took 1.6–2.0 s into a reserved file against
// 2.7–3.7 s into a sparse one (docs/benchmarks.md, round 4).
//
// Only the data runs are reserved: holes stay holes, so a thin disk stays thin. A target too small
// for the disk's data is said before the first block is written. Where the addon is not built or
// the file system cannot reserve (EOPNOTSUPP: NFS v3, some FUSE file systems), nothing is reserved
// and the restore writes as it did; the reason comes back for the job's log.
import { open } from 'node:fs/promises';
import { constants } from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { seekNative, type SeekNative } from '../disks/seek-data.ts';
import { LifeboatError } from '../errors.ts';
import { dataBytesAt } from '../repository/block-map.ts';

/** One fallocate call reserves at most this much (a large run's extents take a while to lay
 * out), and the engine's thread is given back after this many ms of calls. */
const CALL_BYTES = 1024 ** 3;
const TURN_MS = 5;

export type DataRuns = { map: Uint8Array; blockCount: number; blockSize: number };

/** [offset, end) of each run of consecutive data blocks, in order. */
export function* dataRuns({ map, blockCount, blockSize }: DataRuns): Generator<[number, number]> {
  for (let index = 0; index < blockCount;) {
    if (dataBytesAt(map, index) === 0) {
      index++;
      continue;
    }
    const start = index * blockSize;
    while (index + 1 < blockCount && dataBytesAt(map, index + 1) > 0) index++;
    yield [start, index * blockSize + dataBytesAt(map, index)];
    index++;
  }
}

/**
 * Reserves the room of `runs`' data in the file at `path` (already made at the disk's size).
 * Returns null once reserved, or why nothing was. Throws target-full (naming `target`) when the
 * file system has not the room.
 */
export async function reserveDataRoom(
  path: string,
  runs: DataRuns,
  target: string,
  native: SeekNative | string = seekNative(),
): Promise<string | null> {
  if (typeof native === 'string') return native;
  const { allocate } = native;
  if (!allocate) return 'the seek-data addon predates fallocate: run npm install';
  const handle = await open(path, 'r+');
  let turnStarted = performance.now();
  try {
    for (const [start, end] of dataRuns(runs)) {
      for (let offset = start; offset < end; offset += CALL_BYTES) {
        try {
          allocate.call(native, handle.fd, offset, Math.min(CALL_BYTES, end - offset));
        } catch (error) {
          const errno = (error as { errno?: unknown }).errno;
          if (errno === constants.errno.ENOSPC || errno === constants.errno.EDQUOT)
            throw new LifeboatError(
              'target-full',
              `${target} ran out of space reserving room for the disk's data (${(error as Error).message})`,
            );
          if (errno === constants.errno.EOPNOTSUPP || errno === constants.errno.ENOSYS)
            return `the file system does not reserve room ahead (${(error as Error).message})`;
          throw error;
        }
        if (performance.now() - turnStarted >= TURN_MS) {
          await nextTurn();
          turnStarted = performance.now();
        }
      }
    }
    return null;
  } finally {
    await handle.close();
  }
}
