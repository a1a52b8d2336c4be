// What a restore point becomes on tape: every stored block its merged maps reference, once
// (blocks shared inside the chain are written once), in the order a restore writes the disks;
// and per disk block the id of its stored block (0 for a hole). Self-contained: restoring the
// copy needs no other point and no repository.
import { BlockKind, RECORD_BYTES, readRecord, type BlockRecord } from '../repository/block-map.ts';
import type { ResolvedPoint } from '../repository/chain.ts';
import type { Manifest } from '../repository/manifest.ts';
import { MAP_ENTRY_BYTES } from './tape-format.ts';

export type CopyPlan = {
  manifest: Manifest;
  /** The stored blocks in write order; the index is the block's unique id. */
  blocks: BlockRecord[];
  /** Disk maps back to back, in the manifest's disk order: u32 per disk block, id + 1 or 0. */
  maps: Buffer;
  storedBytes: number;
  /** Where the repository keeps the blocks: data file of each point of the chain. */
  dataFiles: Map<number, string>;
};

export function planCopy(point: ResolvedPoint): CopyPlan {
  const total = point.disks.reduce((sum, disk) => sum + disk.blockCount, 0);
  const maps = Buffer.alloc(total * MAP_ENTRY_BYTES);
  const ids = new Map<string, number>();
  const blocks: BlockRecord[] = [];
  let storedBytes = 0;
  let entry = 0;
  for (const disk of point.disks) {
    for (let index = 0; index < disk.blockCount; index++, entry++) {
      const record = readRecord(disk.map, index * RECORD_BYTES);
      if (record.kind !== BlockKind.data) continue;
      const key = `${record.dataFile}:${record.offset}`;
      let id = ids.get(key);
      if (id === undefined) {
        id = blocks.length;
        ids.set(key, id);
        blocks.push(record);
        storedBytes += record.storedLength;
      }
      maps.writeUInt32LE(id + 1, entry * MAP_ENTRY_BYTES);
    }
  }
  return { manifest: point.point, blocks, maps, storedBytes, dataFiles: point.dataFiles };
}

/** Disk `diskIndex`'s slice of a copy's maps. */
export function diskMapOf(manifest: Manifest, maps: Buffer, diskIndex: number): Buffer {
  let start = 0;
  for (let i = 0; i < diskIndex; i++) start += Math.ceil((manifest.disks[i]?.capacity ?? 0) / manifest.blockSize);
  const count = Math.ceil((manifest.disks[diskIndex]?.capacity ?? 0) / manifest.blockSize);
  return maps.subarray(start * MAP_ENTRY_BYTES, (start + count) * MAP_ENTRY_BYTES);
}
