// What the bench's parts share: medians, a timer, the `cp` + `sync` reference, the guest-like disk
// and the VM folder around it, the deterministic 5% change, and dropping the page cache.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { vmxText } from '../electron/lab/create-lab.ts';

export const MIB = 1024 * 1024;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export async function timed(fn: () => Promise<void> | void): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** The reference every part is read against: the same bytes copied on the same disk and made durable. */
export function cp(from: string, to: string): void {
  execFileSync('cp', ['--sparse=auto', from, to]);
  execFileSync('sync', [to]);
}

/** A guest-like disk: 15% never written, 35% incompressible, 50% log-like text; no two blocks equal. */
export async function makeDisk(path: string, bytes: number): Promise<number> {
  const handle = await open(path, 'w');
  await handle.truncate(bytes);
  const text = Buffer.from(
    Array.from(
      { length: 20000 },
      (_, i) =>
        `2026-11-24T03:${String(i % 60).padStart(2, '0')}:00Z host-${i % 17} svc[${i}]: handled request ${i * 7919} in ${i % 113} ms\n`,
    ).join(''),
  ).subarray(0, MIB);
  let written = 0;
  for (let block = 0; block < bytes / MIB; block++) {
    const kind = (block * 13) % 20;
    if (kind < 3) continue;
    const data = kind < 10 ? randomBytes(MIB) : Buffer.from(text);
    data.writeUInt32LE(block, 0);
    data.writeUInt32LE(block, MIB / 2);
    await handle.write(data, 0, MIB, block * MIB);
    written += MIB;
  }
  await handle.sync();
  await handle.close();
  return written;
}

/** The bench VM's folder under `root`: its .vmx and a monolithicFlat disk of `capacity` bytes. */
export async function makeSourceVm(root: string, capacity: number): Promise<{ source: string; flat: string; dataBytes: number }> {
  const source = join(root, 'source');
  await mkdir(source);
  const flat = join(source, 'bench-flat.vmdk');
  const dataBytes = await makeDisk(flat, capacity);
  await writeFile(
    join(source, 'bench.vmdk'),
    `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW ${capacity / 512} FLAT "bench-flat.vmdk" 0\n`,
  );
  await writeFile(join(source, 'bench.vmx'), vmxText('bench', ['bench.vmdk'], '42 42 42 42 42 42 42 42-42 42 42 42 42 42 42 42'));
  return { source, flat, dataBytes };
}

/** `fraction` of the disk's 1 MiB blocks, picked by a seeded shuffle so they spread over the whole
 * disk and over every kind of block (a fixed stride would hit one kind only: see makeDisk). */
export function changedBlocks(capacity: number, fraction: number, seed: number): number[] {
  const blocks = Array.from({ length: Math.floor(capacity / MIB) }, (_, block) => block);
  let state = seed >>> 0 || 1;
  const next = (): number => {
    // xorshift32: the same picks on every machine and in every run with this seed.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  for (let i = blocks.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [blocks[i], blocks[j]] = [blocks[j] as number, blocks[i] as number];
  }
  return blocks.slice(0, Math.round(blocks.length * fraction)).sort((a, b) => a - b);
}

/** Writes random bytes over the given 1 MiB blocks of `path`, durably. */
export async function overwriteBlocks(path: string, blocks: number[]): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    for (const block of blocks) await handle.write(randomBytes(MIB), 0, MIB, block * MIB);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes back dirty pages and drops the page cache so the next step reads from the disk; false
 * where that is not allowed (not root), and then every step runs with warm caches. */
export async function dropPageCache(): Promise<boolean> {
  execFileSync('sync');
  try {
    await writeFile('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}
