// The repository side of a mover's disk task: a disk's stored blocks read from the point's data
// files in index order from a watermark (holes skipped), unsealed when the chain is encrypted but
// NOT decompressed: the mover decompresses and checks them, so the engine's CPU and the wire carry
// the compressed bytes.
import { open, type FileHandle } from 'node:fs/promises';
import { LifeboatError } from '../errors.ts';
import { unsealed } from '../repository/block-cipher.ts';
import { BlockKind, RECORD_BYTES, readRecord } from '../repository/block-map.ts';
import type { ResolvedDisk, ResolvedPoint } from '../repository/chain.ts';
import { MAX_PAYLOAD_BYTES } from './protocol.ts';

export type FedBlock = { index: number; codec: number; rawLength: number; sha256: string; payload: Uint8Array };

/** Raw bytes of the data blocks of `disk` below block `watermark`: what a resumed task has done. */
export function rawBytesBelow(disk: ResolvedDisk, watermark: number): number {
  let bytes = 0;
  for (let index = 0; index < Math.min(watermark, disk.blockCount); index++) {
    const record = readRecord(disk.map, index * RECORD_BYTES);
    if (record.kind === BlockKind.data) bytes += record.rawLength;
  }
  return bytes;
}

/** Yields the stored blocks of `disk` from block `from` on. `onRead` gets the seconds spent
 * reading each one (the "source read" stage). The data files are closed when the loop ends. */
export async function* feedBlocks(
  point: ResolvedPoint,
  disk: ResolvedDisk,
  from: number,
  onRead: (seconds: number) => void,
): AsyncGenerator<FedBlock> {
  const handles = new Map<number, FileHandle>();
  try {
    for (let index = from; index < disk.blockCount; index++) {
      const record = readRecord(disk.map, index * RECORD_BYTES);
      if (record.kind !== BlockKind.data) continue;
      const started = performance.now();
      const label = `VM ${point.point.vmName}, point ${point.point.sequence}, disk ${disk.key} (${disk.fileName}), offset ${index * point.blockSize}`;
      let handle = handles.get(record.dataFile);
      if (!handle) {
        const path = point.dataFiles.get(record.dataFile);
        if (!path) throw new LifeboatError('corrupt-backup', `${label}: the block is in a data file outside the chain`);
        handle = await open(path, 'r');
        handles.set(record.dataFile, handle);
      }
      if (record.storedLength > MAX_PAYLOAD_BYTES)
        throw new LifeboatError(
          'corrupt-backup',
          `${label}: the block map says it is stored in ${record.storedLength} bytes, more than a block can take`,
        );
      const stored = Buffer.allocUnsafe(record.storedLength);
      const { bytesRead } = await handle.read(stored, 0, record.storedLength, record.offset);
      if (bytesRead !== record.storedLength) throw new LifeboatError('corrupt-backup', `${label}: the data file ends inside the block`);
      let opened: { payload: Uint8Array; codec: number };
      try {
        opened = unsealed(stored, record.codec, record.sha256, point.dataKey);
      } catch (error) {
        throw new LifeboatError(error instanceof LifeboatError ? error.code : 'corrupt-backup', `${label}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      onRead((performance.now() - started) / 1000);
      yield {
        index,
        codec: opened.codec,
        rawLength: record.rawLength,
        sha256: Buffer.from(record.sha256).toString('hex'),
        payload: opened.payload,
      };
    }
  } finally {
    for (const handle of handles.values()) await handle.close();
  }
}

/** Yields what `blocks` yields, reading the next block while the caller sends this one (the
 * socket drains while the data file is read). Closing it closes `blocks` once that read ends. */
export async function* readingAhead<T>(blocks: AsyncGenerator<T>): AsyncGenerator<T> {
  let next = blocks.next();
  // Handled here and awaited below: a failed read ahead is thrown where its block is wanted.
  next.catch(() => undefined);
  try {
    for (;;) {
      const current = await next;
      if (current.done) return;
      next = blocks.next();
      next.catch(() => undefined);
      yield current.value;
    }
  } finally {
    await next.catch(() => undefined);
    await blocks.return(undefined);
  }
}
