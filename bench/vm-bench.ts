// What a bench part measured against the `cp` of the bench VM is given by bench/run.ts.
export type VmBench = {
  /** The bench's scratch folder. */
  root: string;
  /** The VM folder to back up. */
  source: string;
  /** The VM's disk size in bytes. */
  capacity: number;
  /** Median seconds of `cp --sparse=auto` + `sync` of its flat disk in this run. */
  cpTime: number;
  /** Its flat disk, for a part that also times a `cp` beside each of its own steps. */
  flat: string;
  runs: number;
  timed(fn: () => Promise<void> | void): Promise<number>;
  median(values: number[]): number;
};
