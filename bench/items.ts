// Item-level figures: listing a 20,000-entry folder inside a point through the files service (the
// call behind the CLI's `files ls`) and with the CLI end to end, on ext4, XFS and NTFS, whose
// directory formats differ (ext4 hashed blocks, XFS node/B+tree folders, NTFS index allocation);
// then building the file index of a million paths and searching it.
// Alone: LIFEBOAT_BENCH_ONLY=items npm run bench (LIFEBOAT_BENCH_ITEMS sets the folder size).
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog } from '../electron/catalog/catalog.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { listIndexedFolder } from '../electron/items/indexed-folder.ts';
import { buildCli } from '../scripts/build.ts';
import { flatVmFolder } from './vm-folder.ts';

type Timer = (fn: () => Promise<void> | void) => Promise<number>;
type Median = (values: number[]) => number;

const MIB = 1024 * 1024;
const SECTOR = 512;
const ENTRIES = Number(process.env.LIFEBOAT_BENCH_ITEMS ?? '20000');
/** mkfs.xfs refuses data sections under 300 MB; the others get room for a block per small file. */
const PARTITIONS = [
  { kind: 'ext4', mib: 64 + Math.ceil((ENTRIES * 4096) / MIB) },
  { kind: 'xfs', mib: 300 },
  { kind: 'ntfs', mib: 64 + Math.ceil((ENTRIES * 1024) / MIB) },
] as const;

const run = (command: string, ...args: string[]): void => void execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
const entryName = (i: number): string => `file-${String(i).padStart(5, '0')}.conf`;
const entryText = (i: number): string => `entry ${i} of the listing benchmark\n`.repeat(i % 7);

/** The folder `many` of ENTRIES small files (some empty), and a few others beside it. */
async function seedFolder(folder: string): Promise<void> {
  await mkdir(join(folder, 'many'), { recursive: true });
  await mkdir(join(folder, 'etc'), { recursive: true });
  await writeFile(join(folder, 'etc', 'hostname'), 'items\n');
  for (let i = 0; i < ENTRIES; i++) await writeFile(join(folder, 'many', entryName(i)), entryText(i), { mode: 0o644 });
}

/** An mkfs.xfs prototype copying the seeded folder (no root, no mount needed). */
function xfsPrototype(seeded: string): string {
  const lines = ['/dev/null', '0 0', 'd--755 0 0', ' etc d--755 0 0', `  hostname ---644 0 0 ${join(seeded, 'etc', 'hostname')}`, ' $'];
  lines.push(' many d--755 0 0');
  for (let i = 0; i < ENTRIES; i++) lines.push(`  ${entryName(i)} ---644 0 0 ${join(seeded, 'many', entryName(i))}`);
  lines.push(' $', '$');
  return `${lines.join('\n')}\n`;
}

async function fileSystemImage(kind: 'ext4' | 'xfs' | 'ntfs', image: string, mib: number, seeded: string, offset: number): Promise<void> {
  await writeFile(image, '');
  await truncate(image, mib * MIB);
  if (kind === 'ext4') run('mke2fs', '-q', '-F', '-t', 'ext4', '-N', String(ENTRIES + 4096), '-d', seeded, image);
  else if (kind === 'xfs') {
    const prototype = `${image}.proto`;
    await writeFile(prototype, xfsPrototype(seeded));
    run('mkfs.xfs', '-q', '-f', '-p', prototype, image);
  } else {
    run('mkntfs', '-F', '-Q', '-q', '-L', 'data', '-p', String(offset / SECTOR), '-H', '255', '-S', '63', image);
    const mount = await mkdtemp(`${image}.mnt-`);
    run('ntfs-3g', image, mount);
    try {
      run('cp', '-r', join(seeded, 'many'), join(seeded, 'etc'), mount);
    } finally {
      run('umount', mount);
      await rm(mount, { recursive: true, force: true });
    }
  }
}

/** A GPT disk: part1 ext4, part2 XFS, part3 NTFS, each holding /many (NTFS is filled through ntfs-3g: root). */
async function buildDisk(work: string): Promise<string> {
  const seeded = join(work, 'seed');
  await seedFolder(seeded);
  const raw = join(work, 'disk.raw');
  const starts: number[] = [];
  let next = MIB;
  for (const partition of PARTITIONS) {
    starts.push(next);
    next += partition.mib * MIB;
  }
  await writeFile(raw, '');
  await truncate(raw, next + MIB);
  run(
    'sgdisk',
    ...PARTITIONS.flatMap((partition, i) => [
      '-n',
      `${i + 1}:${(starts[i] as number) / SECTOR}:${(starts[i] as number) / SECTOR + (partition.mib * MIB) / SECTOR - 1}`,
      '-t',
      `${i + 1}:${partition.kind === 'ntfs' ? '0700' : '8300'}`,
    ]),
    raw,
  );
  const disk = await open(raw, 'r+');
  try {
    for (const [i, partition] of PARTITIONS.entries()) {
      const image = join(work, `part${i + 1}.${partition.kind}`);
      await fileSystemImage(partition.kind, image, partition.mib, seeded, starts[i] as number);
      const bytes = await open(image, 'r');
      try {
        const buffer = Buffer.alloc(4 * MIB);
        for (let position = 0; position < partition.mib * MIB; position += buffer.length) {
          const { bytesRead } = await bytes.read(buffer, 0, buffer.length, position);
          if (buffer.subarray(0, bytesRead).some((byte) => byte !== 0))
            await disk.write(buffer, 0, bytesRead, (starts[i] as number) + position);
        }
      } finally {
        await bytes.close();
      }
      await rm(image, { force: true });
    }
  } finally {
    await disk.close();
  }
  return raw;
}

/** Until the process has been quiet for a moment (at most 5 s): a fresh engine's block workers
 * compile their modules for about a second after it opens, which a running engine, the one a
 * `files ls` asks, has long done. */
async function settled(): Promise<void> {
  for (let tries = 0; tries < 50; tries++) {
    const before = process.cpuUsage();
    const start = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const used = process.cpuUsage(before);
    if ((used.user + used.system) / 1000 < 0.15 * (performance.now() - start)) return;
  }
}

/** Seconds a run of the bundled CLI takes, spawned and waited for (its output discarded). */
function timedCli(args: string[]): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '..', 'bin', 'lifeboat.js'), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve((performance.now() - started) / 1000) : reject(new Error(`lifeboat ${args.join(' ')}: exit ${code}: ${stderr}`)),
    );
  });
}

/** Listing each file system's 20k-entry folder through the files service, in a fresh engine
 * each run: the first `files ls` of the folder, which the point's file index answers (the backup
 * indexed the point); the first listing read from the point itself (`--from-point`, and any point
 * not indexed: the point opened, its volumes scanned, the folder read, every backup block they
 * sit on decoded and SHA-256-checked), with the blocks it decoded and the CPU time the process
 * spent on it (every thread); the same listing again; and `--from-index`'s answer. */
async function listing(root: string, runs: number, timed: Timer, median: Median): Promise<void> {
  const work = join(root, 'items');
  await mkdir(work, { recursive: true });
  await buildCli(); // what `lifeboat` runs when it is current
  const raw = await buildDisk(work);
  const source = join(work, 'vm');
  await mkdir(source);
  await flatVmFolder(source, 'items', raw, '43 43 43 43 43 43 43 43-43 43 43 43 43 43 43 43');
  const home = join(work, 'home');
  const engine = await openServedEngine({ home });
  try {
    const backup = await engine.jobs.whenEnded((await engine.backups.start(source, 'bench')).id);
    if (backup.state !== 'succeeded') throw new Error(`backup failed: ${backup.error}`);
    await engine.jobs.idle();
  } finally {
    await engine.close();
  }
  for (const [i, partition] of PARTITIONS.entries()) {
    const path = `/disk0/part${i + 1}/many`;
    const answered: number[] = [];
    const cold: number[] = [];
    const cpu: number[] = [];
    const warm: number[] = [];
    const indexed: number[] = [];
    const cli: number[] = [];
    let blocks = 0;
    for (let r = 0; r < runs; r++) {
      // A fresh engine each run: nothing of the point is open or cached when it is first listed.
      const fresh = await openServedEngine({ home });
      try {
        await settled();
        const count = (listed: { length: number }, how: string): void => {
          if (listed.length !== ENTRIES) throw new Error(`${partition.kind}: ${how} ${listed.length} entries, not ${ENTRIES}`);
        };
        answered.push(await timed(async () => count(await fresh.files.list('items', 'latest', path), 'files ls listed')));
        if (fresh.blockCache.stats().loads !== 0) throw new Error(`${partition.kind}: files ls read the point, not its index`);
        const before = process.cpuUsage();
        const fromPoint = { fromPoint: true };
        cold.push(await timed(async () => count(await fresh.files.list('items', 'latest', path, fromPoint), 'the point listed')));
        const used = process.cpuUsage(before);
        cpu.push((used.user + used.system) / 1e6);
        blocks = fresh.blockCache.stats().loads;
        warm.push(await timed(async () => void (await fresh.files.list('items', 'latest', path, fromPoint))));
        indexed.push(
          await timed(() =>
            count(listIndexedFolder(fresh.catalog, fresh.lookup, { vm: 'items', point: 'latest', path }).entries, '--from-index'),
          ),
        );
      } finally {
        await fresh.close();
      }
    }
    for (let r = 0; r < runs; r++) {
      // The CLI end to end, in an engine of its own so the listing is its first: spawned, its
      // connection, the engine's answer over the socket, the table printed. After the runs
      // above, so that they run as they did before this was measured.
      const serving = await openServedEngine({ home });
      try {
        await settled();
        cli.push(await timedCli(['--home', home, 'files', 'ls', 'items', '--point', 'latest', path]));
      } finally {
        await serving.close();
      }
    }
    const ms = (values: number[]): string => values.map((t) => (t * 1000).toFixed(0)).join(' ');
    const at = (values: number[]): string => `${(median(values) * 1000).toFixed(1)} ms`;
    console.log(
      `  list a ${ENTRIES}-entry folder (${partition.kind.padEnd(4)}) ${at(answered)} files ls, from the point's index (goal < 100 ms); ${at(cold)} read from the point (--from-point: ${blocks} backup blocks decoded, ${(median(cpu) * 1000).toFixed(0)} ms CPU), ${at(warm)} again; ${at(indexed)} --from-index; \`lifeboat files ls\` end to end ${at(cli)}  raw ms: ${ms(answered)} | ${ms(cold)} | ${ms(warm)} | ${ms(indexed)} | ${ms(cli)}`,
    );
  }
  await rm(work, { recursive: true, force: true });
}

/** The index at scale: a million synthetic paths over 10 points, then substring searches. */
async function fileIndex(root: string, timed: Timer, median: Median): Promise<void> {
  const catalog = Catalog.open(join(root, 'index.sqlite'));
  try {
    const perPoint = 100_000;
    const points = 10;
    catalog.ensureRepository({ id: 'bench', name: 'bench', path: root, blockSize: 1 << 20 });
    for (let point = 0; point < points; point++) {
      const stats = { scannedBytes: 0, changedBytes: 0, storedBytes: 0, dedupedBlocks: 0 };
      catalog.recordPoint(
        {
          format: 'lifeboat-point',
          version: 1,
          id: `point-${point}`,
          vmId: 'bench-vm',
          vmName: 'bench',
          sequence: point + 1,
          kind: point === 0 ? 'full' : 'incremental',
          parentId: point === 0 ? null : `point-${point - 1}`,
          createdAt: new Date().toISOString(),
          blockSize: 1 << 20,
          vmConfig: { fileName: 'bench.vmx', text: '' },
          disks: [],
          dataFile: { name: 'data.lbd', size: 0 },
          stats,
        },
        'bench',
        null,
        null,
      );
    }
    const insert = await timed(() => {
      for (let point = 0; point < points; point++) {
        const files = Array.from({ length: perPoint }, (_, i) => {
          const name = `file-${point}-${i}-${(i * 7919) % 100_003}.dat`;
          return { path: `/disk0/part1/data/${i % 500}/${name}`, name, type: 'file', size: i, mtime: 1_700_000_000 + i, mode: 0o644 };
        });
        catalog.files.indexPoint('bench-vm', `point-${point}`, files);
      }
    });
    const searches: number[] = [];
    for (const pattern of ['file-7-4242-', '-99999', 'file-3-12345-', '2024-not-there'])
      searches.push(await timed(() => void catalog.files.search(pattern, null)));
    const size =
      (await stat(join(root, 'index.sqlite'))).size + (await stat(join(root, 'index.sqlite-wal')).catch(() => ({ size: 0 }))).size;
    console.log(
      `  file index: ${points * perPoint} paths in ${insert.toFixed(1)} s (${Math.round((points * perPoint) / insert)} paths/s), ${(size / 2 ** 20).toFixed(0)} MiB; search median ${(median(searches) * 1000).toFixed(1)} ms (goal < 50 ms)  raw ms: ${searches.map((t) => (t * 1000).toFixed(1)).join(' ')}`,
    );
  } finally {
    catalog.close();
  }
}

export async function itemLevel(root: string, runs: number, timed: Timer, median: Median): Promise<void> {
  await listing(root, runs, timed, median);
  await fileIndex(root, timed, median);
}
