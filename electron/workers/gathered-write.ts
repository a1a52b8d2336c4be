// Positional writes of several adjacent buffers with as few writev calls as the kernel allows,
// shared by the restore stripes and the tape writers.
import { writevSync } from 'node:fs';

/** writev takes at most IOV_MAX (1024 on Linux) buffers per call. */
const MAX_BUFFERS = 1024;

/** Writes all of `parts` end to end at `position`; a short write resumes inside the part it stopped in. */
export function writeGathered(fd: number, parts: Uint8Array[], position: number): void {
  let rest = parts;
  let at = position;
  for (let guard = 0; rest.length > 0; guard++) {
    if (guard > 1_000_000) throw new Error('writev made no progress');
    let written = writevSync(fd, rest.slice(0, MAX_BUFFERS), at);
    at += written;
    let index = 0;
    while (index < rest.length && written >= (rest[index] as Uint8Array).length) written -= (rest[index++] as Uint8Array).length;
    rest = rest.slice(index);
    if (written > 0 && rest.length > 0) rest[0] = (rest[0] as Uint8Array).subarray(written);
  }
}
