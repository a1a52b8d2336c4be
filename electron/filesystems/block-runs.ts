// Metadata blocks a listing needs (the inode-table blocks of a folder's entries), read in runs of
// neighbouring blocks: one read of up to a mebibyte instead of one read, one copy and one await
// per 4 KiB block, and all the runs asked for together. A folder's inodes mostly lie together, so
// twenty thousand of them take a few reads.
import { isReadFailure } from './file-system.ts';

/** Blocks one read takes at most, and the gap of unneeded blocks a run reads through rather
 * than starting another read. */
const RUN_BYTES = 1024 * 1024;
const GAP_BLOCKS = 8;

/** The blocks `numbers` names (any order, repeats allowed), each a `blockSize` view of a run read
 * by `read(first, count)`. A run that cannot be read is left out: its blocks are then read one by
 * one by the caller, so a damaged block fails only the entries that need it. */
export async function readBlockRuns(
  numbers: Iterable<number>,
  blockSize: number,
  read: (first: number, count: number) => Promise<Buffer>,
): Promise<Map<number, Buffer>> {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const maxBlocks = Math.max(1, Math.floor(RUN_BYTES / blockSize));
  const runs: number[][] = [];
  for (let start = 0; start < sorted.length;) {
    const first = sorted[start] as number;
    let end = start + 1;
    while (end < sorted.length) {
      const next = sorted[end] as number;
      if (next - (sorted[end - 1] as number) > GAP_BLOCKS || next - first >= maxBlocks) break;
      end++;
    }
    runs.push(sorted.slice(start, end));
    start = end;
  }
  const held = new Map<number, Buffer>();
  // Every run asked for at once: on a backup, each may wait for blocks to be fetched and decoded,
  // and those of different runs are fetched together rather than one after another.
  await Promise.all(
    runs.map(async (run) => {
      const first = run[0] as number;
      const count = (run.at(-1) as number) - first + 1;
      const bytes = await read(first, count).catch((error: unknown) => {
        if (!isReadFailure(error)) throw error;
        return null;
      });
      if (bytes?.length === count * blockSize)
        for (const number of run) held.set(number, bytes.subarray((number - first) * blockSize, (number - first + 1) * blockSize));
    }),
  );
  return held;
}
