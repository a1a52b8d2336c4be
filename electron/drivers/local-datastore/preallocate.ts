// Preallocates the data ranges of a restored flat file so the workers overwrite allocated
// extents instead of growing the file block by block (about five times faster on ext4 here).
// Node has no fallocate(2); one python3 process applies every range with os.posix_fallocate.
// Holes between ranges stay holes. Without python3 the restore runs unpreallocated.
import { spawn } from 'node:child_process';

const script = `
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for line in sys.stdin:
    offset, length = map(int, line.split())
    os.posix_fallocate(fd, offset, length)
os.close(fd)
`;

/** Byte ranges [offset, length] of consecutive data blocks, from a per-block predicate. */
export function dataRanges(blockCount: number, blockSize: number, capacity: number, isData: (index: number) => boolean): [number, number][] {
  const ranges: [number, number][] = [];
  let start = -1;
  for (let index = 0; index <= blockCount; index++) {
    const data = index < blockCount && isData(index);
    if (data && start < 0) start = index;
    if (!data && start >= 0) {
      const offset = start * blockSize;
      ranges.push([offset, Math.min(index * blockSize, capacity) - offset]);
      start = -1;
    }
  }
  return ranges;
}

export function preallocate(path: string, ranges: [number, number][]): Promise<boolean> {
  if (ranges.length === 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const child = spawn('python3', ['-c', script, path], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
    child.stdin.on('error', () => undefined);
    child.stdin.end(ranges.map(([offset, length]) => `${offset} ${length}`).join('\n'));
  });
}
