// A disk that can say, range by range, what it holds itself: its own bytes, zeros it wrote, or
// nothing at all. In a snapshot chain "nothing" means the parent's bytes show through.
import type { Disk, Extent } from './disk.ts';

export type RunState = 'data' | 'zero' | 'parent';
export type Run = { length: number; state: RunState };

export interface LayerDisk extends Disk {
  /** Runs covering [offset, offset + length) in order, neighbours of one state merged. */
  runs(offset: number, length: number): Promise<Run[]>;
}

/** Appends a run, merging it into the last one when both have the same state. */
export function pushRun(runs: Run[], state: RunState, length: number): void {
  if (length <= 0) return;
  const last = runs.at(-1);
  if (last && last.state === state) last.length += length;
  else runs.push({ state, length });
}

/** Appends an extent at the end of the list, merging it into the last one of the same state. */
export function pushExtent(extents: Extent[], state: Extent['state'], offset: number, length: number): void {
  if (length <= 0) return;
  const last = extents.at(-1);
  if (last && last.state === state) last.length += length;
  else extents.push({ offset, length, state });
}

/** The extents of a layer read on its own, as the disk it is when nothing lies below it: what it
 * leaves to a parent reads as zeros. */
export async function layerExtents(layer: LayerDisk, offset: number, length: number): Promise<Extent[]> {
  const extents: Extent[] = [];
  let position = offset;
  for (const run of await layer.runs(offset, length)) {
    pushExtent(extents, run.state === 'data' ? 'data' : 'zero', position, run.length);
    position += run.length;
  }
  return extents;
}

/** What a sparse format's grain table entry decodes to, besides a file sector: nothing written
 * (the parent's bytes show) or zeros written. */
export const ABSENT_GRAIN = 0;
export const ZEROED_GRAIN = -1;
