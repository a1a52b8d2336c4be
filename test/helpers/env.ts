// Test helpers: temporary homes that are always removed, real tools, small real VMs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, open, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { Engine, type EngineOptions } from '../../electron/engine/engine.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { vmxText } from '../../electron/lab/create-lab.ts';
import type { Job } from '../../shared/domain.ts';
import { placeCatalog } from './postgres-homes.ts';

const MIB = 1024 * 1024;

// A test never touches the real user's config folder: a secrets key the engine makes for a
// test home (key-source.ts's default) goes to a folder of this test file's own.
const generatedKeys = await mkdtemp(join(tmpdir(), 'lifeboat-keys-'));
process.env.LIFEBOAT_KEYS_DIR = generatedKeys;
after(() => rm(generatedKeys, { recursive: true, force: true }));

export async function tempDir(prefix = 'lifeboat-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function openEngine(home: string, blockSize?: number): Promise<Engine> {
  return openEngineWith({ home, workerThreads: 2, ...(blockSize ? { blockSize } : {}) });
}

/** An engine closed after the test file, whatever the tests did. */
export async function openEngineWith(options: EngineOptions): Promise<Engine> {
  await placeCatalog(options.home);
  const engine = await openServedEngine(options);
  after(() => engine.close());
  return engine;
}

export function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8' });
}

/** Writes a raw disk with zero, repetitive and random regions, like a real guest's. */
export async function writeMixedRaw(path: string, mib: number, seed = 1): Promise<void> {
  const handle = await open(path, 'w');
  await handle.truncate(mib * MIB);
  for (let i = 0; i < mib; i++) {
    const kind = (i * 7 + seed) % 5;
    if (kind === 0) continue; // hole
    const block = kind === 1 ? randomBytes(MIB) : Buffer.alloc(MIB, `block ${i} seed ${seed} `);
    await handle.write(block, 0, MIB, i * MIB);
  }
  await handle.close();
}

/** Overwrites a few regions (not block aligned) so an incremental has something to find. */
export async function changeRaw(path: string, generation: number): Promise<void> {
  const handle = await open(path, 'r+');
  await handle.write(randomBytes(300_000), 0, 300_000, 3 * MIB + 12_345 * generation);
  await handle.write(Buffer.alloc(MIB, 0), 0, MIB, 5 * MIB); // a block becomes empty
  await handle.close();
}

/** A VM folder whose disk is made from a raw image by qemu-img in the given VMDK subformat. */
export async function makeVmFolder(
  folder: string,
  name: string,
  raw: string,
  subformat: 'monolithicFlat' | 'monolithicSparse',
): Promise<string> {
  const vmdk = join(folder, `${name}.vmdk`);
  await rm(vmdk, { force: true });
  await rm(join(folder, `${name}-flat.vmdk`), { force: true });
  qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', `subformat=${subformat}`, raw, vmdk);
  await writeFile(join(folder, `${name}.vmx`), vmxText(name, [`${name}.vmdk`], '56 4d 00 11 22 33 44 55-66 77 88 99 aa bb cc dd'));
  return vmdk;
}

export async function runJob(engine: Engine, job: Job): Promise<Job> {
  return engine.jobs.whenEnded(job.id);
}

/** Backs up VM `name` (a folder under `dir`) `generations` times, its disk of `mib` MiB changed
 * (changeRaw) before each backup after the first; returns the raw disk as of each backup, oldest
 * first, for qemu-img to compare each point's restore with. */
export async function backupGenerations(
  engine: Engine,
  dir: string,
  options: { name: string; generations: number; mib: number; subformat: 'monolithicFlat' | 'monolithicSparse' },
): Promise<string[]> {
  const source = join(dir, 'source');
  await mkdir(source, { recursive: true });
  const raw = join(dir, `${options.name}.raw`);
  await writeMixedRaw(raw, options.mib);
  const kept: string[] = [];
  for (let generation = 1; generation <= options.generations; generation++) {
    if (generation > 1) await changeRaw(raw, generation);
    await makeVmFolder(source, options.name, raw, options.subformat);
    const keep = join(dir, `as-of-${generation}.raw`);
    await copyFile(raw, keep);
    kept.push(keep);
    const job = await runJob(engine, await engine.backups.start(source, 'test'));
    assert.equal(job.state, 'succeeded', job.error ?? '');
  }
  return kept;
}

/** Polls `probe` until it returns a value; bounded, so a test never waits forever. */
export async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A small tmpfs for "disk full" tests, unmounted after the file; `path` is null where mounting
 * is not permitted (it needs root), and the test is skipped saying so. */
export async function smallTmpfs(size: string): Promise<{ path: string | null; skip: string | false }> {
  const mountPoint = await mkdtemp(join(tmpdir(), 'lifeboat-small-'));
  let mounted = false;
  after(async () => {
    if (mounted) execFileSync('umount', [mountPoint]);
    await rmdir(mountPoint);
  });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mountPoint], { stdio: 'ignore' });
    mounted = true;
  } catch {
    // not permitted here
  }
  return mounted ? { path: mountPoint, skip: false } : { path: null, skip: 'mounting a small tmpfs needs root' };
}

/** A folder on a loop-mounted XFS (reflink on), unmounted after the file: where a file-backed
 * array's snapshots can share blocks. `path` is null where that cannot be made (it needs root
 * and xfsprogs), and the test is skipped saying so. */
export async function reflinkFolder(sizeMib: number): Promise<{ path: string | null; skip: string | false }> {
  return loopMountedFolder('xfs', sizeMib, ['-m', 'reflink=1']);
}

/** A folder on a loop-mounted file system made by `mkfs.<type>`, unmounted and removed after the
 * file; `path` is null where that cannot be made (it needs root and the mkfs tool), and the test
 * is skipped saying so. */
export async function loopMountedFolder(
  type: string,
  sizeMib: number,
  mkfsOptions: string[] = [],
): Promise<{ path: string | null; skip: string | false }> {
  const dir = await mkdtemp(join(tmpdir(), `lifeboat-${type}-`));
  const image = join(dir, `${type}.img`);
  const mountPoint = join(dir, 'mnt');
  let mounted = false;
  after(async () => {
    if (mounted) execFileSync('umount', [mountPoint]);
    await rm(dir, { recursive: true, force: true });
  });
  try {
    const handle = await open(image, 'w');
    await handle.truncate(sizeMib * MIB);
    await handle.close();
    execFileSync(`mkfs.${type}`, ['-q', ...mkfsOptions, image], { stdio: 'ignore' });
    execFileSync('mkdir', [mountPoint]);
    execFileSync('mount', ['-o', 'loop', image, mountPoint], { stdio: 'ignore' });
    mounted = true;
  } catch {
    // not permitted or not installed here
  }
  return mounted ? { path: mountPoint, skip: false } : { path: null, skip: `a loop-mounted ${type} needs root and mkfs.${type}` };
}

/** An MBR disk holding `volume` (an NTFS image of `volumeBytes`) as partition 1 (type 07) at 1 MiB. */
export async function writeNtfsMbrDisk(raw: string, volume: string, volumeBytes: number): Promise<void> {
  const mbr = Buffer.alloc(512);
  mbr[446 + 4] = 0x07;
  mbr.writeUInt32LE(2048, 446 + 8);
  mbr.writeUInt32LE(volumeBytes / 512, 446 + 12);
  mbr.writeUInt16LE(0xaa55, 510);
  await writeFile(raw, Buffer.concat([mbr, Buffer.alloc(1024 * 1024 - 512), await readFile(volume), Buffer.alloc(1024 * 1024)]));
}
