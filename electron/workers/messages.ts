// Messages between the engine and its block workers. Buffers move (transfer), never copy;
// block maps and progress counters live in SharedArrayBuffers.

/** Backup: consecutive blocks of a disk read in one piece (the last may be short). Per block the
 * worker says whether it is all zero, gives its fast hash (16 bytes, fast-hash-map.ts) and, unless
 * that hash equals the block's non-zero entry in `parentFastHashes`, its SHA-256 (`hashed` = 1). */
export type ScanBlocksTask = { type: 'scan-blocks'; data: Uint8Array; blockSize: number; parentFastHashes: Uint8Array | null };
/** Per block: `zero` and `hashed` flags, 16 bytes of `fastHashes`, 32 of `sha256`; `data` comes back. */
export type ScanBlocksResult = {
  data: Uint8Array;
  zero: Uint8Array;
  hashed: Uint8Array;
  fastHashes: Uint8Array;
  sha256: Uint8Array;
  /** The worker's time on the piece. */
  busyMs: number;
};

/** Backup: some blocks of a scanned piece (by their index in it) compressed, and with `seal`
 * sealed with the chain key (each block's SHA-256, in `sha256s`, as AAD). */
export type CompressBlocksTask = {
  type: 'compress-blocks';
  data: Uint8Array;
  blockSize: number;
  blocks: number[];
  codec: number;
  seal?: { key: Uint8Array; sha256s: Uint8Array[] };
};
/** One stored form per block asked for, in order; `data` comes back. `busyMs`: the worker's time. */
export type CompressBlocksResult = { data: Uint8Array; stored: { codec: number; payload: Uint8Array }[]; busyMs: number };

/** Full backup: consecutive blocks of a disk read in one piece, scanned and stored in one message
 * (no parent to compare with, so nearly every non-zero block is new). Per block: the zero test,
 * the fast hash, the SHA-256 and the stored form (compressed, and with `sealKey` sealed). */
export type PackBlocksTask = { type: 'pack-blocks'; data: Uint8Array; blockSize: number; codec: number; sealKey: Uint8Array | null };
/** Per block: `zero` flag, 16 bytes of `fastHashes`, 32 of `sha256`, and (non-zero blocks) its
 * stored form's `codecs` byte and `lengths`; its payload is the block itself inside `data` where
 * `inData` is 1, else at `offsets` in `packed`. `busyMs`: the worker's time per stage. */
export type PackBlocksResult = {
  data: Uint8Array;
  zero: Uint8Array;
  fastHashes: Uint8Array;
  sha256: Uint8Array;
  codecs: Uint8Array;
  inData: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
  packed: Uint8Array;
  busyMs: { hash: number; compress: number };
};

/** A disk of a resolved point, as a block worker reads it: its merged block map (shared memory)
 * and the data files of the chain by point sequence. */
export type PointDiskSource = {
  map: Uint8Array;
  blockSize: number;
  capacity: number;
  dataFiles: [number, string][];
  /** The chain key of an encrypted point. */
  dataKey: Uint8Array | null;
};

/** Restores (or, with no target, verifies) one stripe of a disk's blocks. */
export type RestoreStripeTask = PointDiskSource & {
  type: 'restore-stripe';
  targetPath: string | null;
  slot: number;
  slots: number;
  /** [0]: 0 = go, 1 = cancel, 2 = another stripe failed. */
  control: Int32Array;
  /** Bytes done per slot (restore: written; rollback: compared). */
  progress: Float64Array;
  /** Quick rollback: read the target first and write only the blocks that differ (holes too). */
  rollback?: boolean;
  /** With rollback: only compare, write nothing (checking a restored disk against the point). */
  compareOnly?: boolean;
  /** Per slot: the stripe's blocks below this index are done (set by the worker as it goes;
   * given at start when resuming). */
  watermarks?: Int32Array;
  /** Busy milliseconds per slot and stage (STAGES order), for the bottleneck display. */
  timings?: Float64Array;
};

/** The stages a data mover spends its time in, in the order of the timings arrays. */
export const STAGES = ['source read', 'decompress', 'verify', 'target write'] as const;
export type Stage = (typeof STAGES)[number] | 'tape read' | 'network' | BackupStage;
/** The stages of a backup: the source read, the workers' zero test and hashes, their compression
 * (and sealing), the data file's writes and final sync. */
export type BackupStage = 'hash' | 'compress' | 'repository write';
export type RestoreStripeResult = { blocks: number; bytes: number; unchangedBlocks: number };

/** One run of a disk's blocks (STRIPE_RUN-aligned, `first` to `end` exclusive) read, decoded and
 * checked into `out` (a view of the reader's shared ring), holes as zeros, for a reader that
 * takes a disk in order (an NBD upload). */
export type DecodeRunTask = PointDiskSource & {
  type: 'decode-run';
  first: number;
  end: number;
  out: Uint8Array;
};
/** The bytes of the run now in `out`. */
export type DecodeRunResult = { bytes: number };

/** Stored blocks read from elsewhere (tape): decompress, check, write each to its places. */
export type WriteBlocksTask = {
  type: 'write-blocks';
  dataKey: Uint8Array | null;
  blocks: { payload: Uint8Array; codec: number; rawLength: number; sha256: Uint8Array; targets: { path: string; position: number }[] }[];
};
/** `corrupt`: the block (index in the batch) that failed its check; the batch stopped there and
 * nothing was written for that block. */
export type WriteBlocksResult = { bytes: number; timings: number[]; corrupt: { blockIndex: number; message: string } | null };

/** One stored block read elsewhere (an NFS read): decompressed and checked, handed back. */
export type DecodeBlockTask = {
  type: 'decode-block';
  payload: Uint8Array;
  codec: number;
  rawLength: number;
  sha256: Uint8Array;
  dataKey: Uint8Array | null;
};
export type DecodeBlockResult = { data: Uint8Array };

/** A file of a point copied to other repositories: read and hashed once, written to every
 * target, each synced. `progress[0]` counts the bytes written. */
export type CopyFileTask = { type: 'copy-file'; source: string; targets: string[]; control: Int32Array; progress: Float64Array };
/** A file read back and hashed (a copy is good when its hash is the source's). */
export type HashFileTask = { type: 'hash-file'; path: string; control: Int32Array };
export type FileHashResult = { bytes: number; sha256: string };

export type WorkerTask =
  | ScanBlocksTask
  | CompressBlocksTask
  | PackBlocksTask
  | RestoreStripeTask
  | DecodeRunTask
  | WriteBlocksTask
  | DecodeBlockTask
  | CopyFileTask
  | HashFileTask;
/** The message that asks an idle worker to leave: it closes its port and its thread ends by itself. */
export const LEAVE = 'leave';

export type WorkerReply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { code: string; message: string; blockIndex?: number } };

/** Blocks are striped across workers in runs of this many so each reads nearby data. */
export const STRIPE_RUN = 8;

export function stripeOf(blockIndex: number, slots: number): number {
  return Math.floor(blockIndex / STRIPE_RUN) % slots;
}
