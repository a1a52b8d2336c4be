// Throughput of the Instant Recovery write cache (not a test): a sequential stream of 1 MiB
// writes into fresh chunks (8 in flight, as libnfs sends them) and 4 KiB writes at random offsets
// (16 in flight), UNSTABLE as QEMU and ESXi send them, into a cache folder on the real disk.
//   node scripts/bench-instant-cache.ts [path of a volume.ts to measure] [folder for the cache]
// An older volume.ts (its constructor, write without `stable`) is measured the same way.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Disk } from '../electron/disks/disk.ts';

type Volume = {
  lookup(dir: number, name: string): number;
  write(id: number, offset: number, data: Uint8Array, stable?: 0 | 1 | 2): Promise<unknown>;
  close(): Promise<void>;
};
type VolumeModule = {
  OverlayVolume: { open?: (...args: unknown[]) => Promise<Volume>; new (...args: unknown[]): Volume };
  VM_FOLDER_ID: number;
};

const modulePath = resolve(process.argv[2] ?? join(import.meta.dirname, '..', 'electron', 'nfs', 'volume.ts'));
const { OverlayVolume, VM_FOLDER_ID } = (await import(modulePath)) as VolumeModule;
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/** A 8 GiB base that costs nothing to read: what is measured is the cache. */
const base: Disk = {
  capacity: 8 * GIB,
  description: 'bench base',
  read: async (_offset, length) => Buffer.alloc(length, 0x5a),
  close: async () => {},
};

async function volumeIn(root: string): Promise<Volume> {
  await mkdir(join(root, 'export', 'vm'), { recursive: true });
  const folders = { exportFolder: join(root, 'export'), vmFolder: 'vm', cacheFolder: join(root, 'cache') };
  const bases = [{ name: 'disk-flat.vmdk', disk: base }];
  if (OverlayVolume.open) return OverlayVolume.open('bench', folders, bases);
  await mkdir(folders.cacheFolder, { recursive: true });
  return new OverlayVolume('bench', folders, bases);
}

async function inFlight(count: number, depth: number, one: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: depth }, async () => {
      while (next < count) await one(next++);
    }),
  );
}

async function measure(what: string, bytes: number, run: (volume: Volume, id: number) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(process.argv[3] ?? tmpdir(), 'lifeboat-bench-'));
  try {
    const volume = await volumeIn(root);
    const id = volume.lookup(VM_FOLDER_ID, 'disk-flat.vmdk');
    const start = performance.now();
    await run(volume, id);
    const seconds = (performance.now() - start) / 1000;
    await volume.close();
    console.log(`${what}: ${(bytes / MIB / seconds).toFixed(0)} MiB/s (${seconds.toFixed(2)} s)`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const stream = Buffer.alloc(MIB, 0xab);
await measure('sequential 1 MiB writes into fresh chunks, 8 in flight', 1024 * MIB, (volume, id) =>
  inFlight(1024, 8, (index) => volume.write(id, index * MIB, stream, 0)),
);
const small = Buffer.alloc(4096, 0xcd);
let seed = 12345;
const offsets = Array.from({ length: 20_000 }, () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return (seed % ((4 * GIB) / 4096)) * 4096;
});
await measure('4 KiB writes at random offsets in 4 GiB, 16 in flight', offsets.length * 4096, (volume, id) =>
  inFlight(offsets.length, Number(process.env.DEPTH ?? 16), (index) => volume.write(id, offsets[index] as number, small, 0)),
);
await measure('4 KiB writes at random offsets again (chunks cached), 16 in flight', offsets.length * 4096, async (volume, id) => {
  await inFlight(offsets.length, 16, (index) => volume.write(id, offsets[index] as number, small, 0));
  const start = performance.now();
  await inFlight(offsets.length, 16, (index) => volume.write(id, offsets[index] as number, small, 0));
  console.log(`  (second pass alone: ${((offsets.length * 4096) / MIB / ((performance.now() - start) / 1000)).toFixed(0)} MiB/s)`);
});
