// Thin disks cost what they hold: a 64 GiB thin disk holding 100 MiB of scattered data, backed up
// in full and then again unchanged (an incremental that finds nothing), as a monolithicFlat VMDK
// over a sparse file and as a monolithicSparse VMDK made from it by qemu-img. Each time is read
// against the disk's allocated size (MB/s of what it holds) and against `cp` + `sync` of the same
// thin file, which skips its holes (coreutils seeks them): the reference that costs what it holds.
// Alone: LIFEBOAT_BENCH_ONLY=thin npm run bench (LIFEBOAT_BENCH_THIN_GIB sets the virtual size).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { vmxText } from '../electron/lab/create-lab.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { flatVmFolder } from './vm-folder.ts';

type Timer = (fn: () => Promise<void> | void) => Promise<number>;

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const VIRTUAL = Number(process.env.LIFEBOAT_BENCH_THIN_GIB ?? '64') * GIB;
const PIECE = 256 * 1024;
const PIECES = 400; // 100 MiB
const GOALS = { full: 5, incremental: 3 };

/** The thin file: PIECES of 256 KiB, half random and half text, at spread-out offsets. */
async function writeThinFile(path: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.truncate(VIRTUAL);
    const text = Buffer.from('2026-12-03T04:00:00Z host-3 svc[7]: thin disk, scattered writes\n'.repeat(5000)).subarray(0, PIECE);
    const stride = Math.floor(VIRTUAL / PIECES / PIECE) * PIECE;
    for (let piece = 0; piece < PIECES; piece++) {
      const data = piece % 2 ? randomBytes(PIECE) : Buffer.from(text);
      data.writeUInt32LE(piece, 0);
      // Each piece at a different place within its stride, so blocks are not all aligned alike.
      const jitter = ((piece * 7919) % Math.max(1, stride / PIECE - 1)) * PIECE;
      await handle.write(data, 0, PIECE, piece * stride + jitter);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function allocated(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}

/** `runs` full backups (each into a new home) and, after each, one backup with nothing changed:
 * wall seconds, and CPU seconds of this process (engine and workers), which load changes less. */
async function backupTimes(root: string, label: string, folder: string, runs: number, timed: Timer) {
  const full = { wall: [] as number[], cpu: [] as number[] };
  const incremental = { wall: [] as number[], cpu: [] as number[] };
  for (let run = 0; run < runs; run++) {
    const home = join(root, `home-thin-${label}-${run}`);
    const engine = await openServedEngine({ home });
    try {
      const backup = async (into: typeof full): Promise<void> => {
        const cpu = process.cpuUsage();
        into.wall.push(
          await timed(async () => {
            const job = await engine.jobs.whenEnded((await engine.backups.start(folder, 'bench')).id);
            if (job.state !== 'succeeded') throw new Error(`${label} backup failed: ${job.error}`);
          }),
        );
        const used = process.cpuUsage(cpu);
        into.cpu.push((used.user + used.system) / 1e6);
      };
      await backup(full);
      await backup(incremental);
    } finally {
      await engine.close();
      await rm(home, { recursive: true, force: true });
    }
  }
  return { full, incremental };
}

export async function thinDisk(root: string, runs: number, timed: Timer, median: (values: number[]) => number): Promise<void> {
  const work = join(root, 'thin');
  const flatFolder = join(work, 'flat');
  const sparseFolder = join(work, 'sparse');
  await mkdir(flatFolder, { recursive: true });
  await mkdir(sparseFolder);
  const raw = join(work, 'thin.raw');
  await writeThinFile(raw);
  await flatVmFolder(flatFolder, 'thin', raw, '64 64 64 64 64 64 64 64-64 64 64 64 64 64 64 64');
  await rm(raw);
  const flatFile = join(flatFolder, 'thin-flat.vmdk');
  execFileSync('qemu-img', [
    'convert',
    '-f',
    'vmdk',
    '-O',
    'vmdk',
    '-o',
    'subformat=monolithicSparse',
    join(flatFolder, 'thin.vmdk'),
    join(sparseFolder, 'thin.vmdk'),
  ]);
  await writeFile(join(sparseFolder, 'thin.vmx'), vmxText('thin', ['thin.vmdk'], '65 65 65 65 65 65 65 65-65 65 65 65 65 65 65 65'));

  const cpTimes: number[] = [];
  for (let run = 0; run < runs; run++) {
    const copy = join(work, 'cp.raw');
    cpTimes.push(await timed(() => void execFileSync('sh', ['-c', `cp --sparse=always "${flatFile}" "${copy}" && sync "${copy}"`])));
    await rm(copy);
  }
  const cpTime = median(cpTimes);
  console.log(
    `  thin disk: ${VIRTUAL / GIB} GiB virtual, ${((PIECES * PIECE) / MIB).toFixed(0)} MiB written in ${PIECES} pieces; cp + sync of the thin file ${cpTime.toFixed(2)} s`,
  );
  for (const [label, folder, file] of [
    ['monolithicFlat', flatFolder, flatFile],
    ['monolithicSparse', sparseFolder, join(sparseFolder, 'thin.vmdk')],
  ] as const) {
    const held = await allocated(file);
    const times = await backupTimes(work, label, folder, runs, timed);
    for (const [kind, values] of [
      ['full backup', times.full],
      ['unchanged incremental', times.incremental],
    ] as const) {
      const time = median(values.wall);
      const goal = kind === 'full backup' ? GOALS.full : GOALS.incremental;
      console.log(
        `  thin ${label.padEnd(16)} ${kind.padEnd(21)} ${time.toFixed(2)} s  ${(held / time / 1e6).toFixed(0)} MB/s of the ${(held / MIB).toFixed(0)} MiB allocated  ratio to cp ${(cpTime / time).toFixed(2)}  goal < ${goal} s: ${time < goal ? 'met' : 'NOT met'}  CPU ${median(values.cpu).toFixed(2)} s  (runs ${values.wall.map((value) => value.toFixed(2)).join(' ')})`,
      );
    }
  }
  await rm(work, { recursive: true, force: true });
}
