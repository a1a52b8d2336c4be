// LIFEBOAT_BENCH_ONLY=backup: Lifeboat's full backup of the guest-like disk alone, against `cp` +
// `sync` of the same flat disk in the same run, then the incremental after the core's 5% change —
// each run in a fresh home, the page cache dropped before every timed step — with the engine's
// busy seconds per stage (where the time goes). No restic or borg here: the `core` part has them.
import { loadavg } from 'node:os';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import type { Engine } from '../electron/engine/engine.ts';
import { changedBlocks, cp, dropPageCache, makeSourceVm, median, MIB, overwriteBlocks, timed } from './common.ts';
import { apparentBytes } from './side-by-side-tools.ts';

/** The core part's change (bench/side-by-side.ts): the same blocks, so the figures compare. */
const CHANGED_FRACTION = 0.05;
const CHANGE_SEED = 21;

/** Wall seconds, CPU seconds of this process (engine and workers: load changes it less), stages. */
type Backup = { seconds: number; cpu: number; stages: string };

/** One backup of the bench VM, timed from the request to the job's end, with its stages. */
async function backup(engine: Engine, source: string, cold: boolean): Promise<Backup> {
  if (cold) await dropPageCache();
  let stages = '';
  const cpu = process.cpuUsage();
  const seconds = await timed(async () => {
    const job = await engine.jobs.whenEnded((await engine.backups.start(source, 'bench')).id);
    if (job.state !== 'succeeded') throw new Error(`backup failed: ${job.error}`);
    stages = Object.entries((job.result?.stages ?? {}) as Record<string, number>)
      .map(([stage, busy]) => `${stage} ${busy.toFixed(2)}`)
      .join(', ');
  });
  const used = process.cpuUsage(cpu);
  return { seconds, cpu: (used.user + used.system) / 1e6, stages };
}

const fixed = (values: number[]): string => values.map((value) => value.toFixed(2)).join(' ');

export async function backupOnly(root: string, capacity: number, runs: number): Promise<void> {
  const loadBefore = loadavg();
  const vm = await makeSourceVm(root, capacity);
  const blocks = changedBlocks(capacity, CHANGED_FRACTION, CHANGE_SEED);
  const cold = await dropPageCache();
  const cpTimes: number[] = [];
  const full: Backup[] = [];
  const incremental: Backup[] = [];
  const sizes: number[] = [];
  for (let run = 0; run < runs; run++) {
    // The copy is also the disk as it was before this run's change, put back after the run.
    const copy = join(root, `cp-backup-${run}`);
    if (cold) await dropPageCache();
    cpTimes.push(await timed(() => cp(vm.flat, copy)));
    const home = join(root, `home-backup-${run}`);
    const engine = await openServedEngine({ home });
    try {
      full.push(await backup(engine, vm.source, cold));
      await overwriteBlocks(vm.flat, blocks);
      incremental.push(await backup(engine, vm.source, cold));
      sizes.push(apparentBytes(join(home, 'repositories')));
    } finally {
      await engine.close();
      await rm(home, { recursive: true, force: true });
      await rename(copy, vm.flat);
    }
  }
  const cpTime = median(cpTimes);
  const fullTime = median(full.map((one) => one.seconds));
  const incrementalTime = median(incremental.map((one) => one.seconds));
  console.log(
    `Lifeboat bench, backup only: ${capacity / 2 ** 30} GiB flat disk (${(vm.dataBytes / 2 ** 30).toFixed(2)} GiB of data), ` +
      `incremental after ${CHANGED_FRACTION * 100}% of its ${capacity / MIB} 1 MiB blocks changed, ${runs} runs, medians`,
  );
  console.log(`  cp --sparse=auto + sync        ${cpTime.toFixed(2)} s`);
  console.log(
    `  full backup                    ${fullTime.toFixed(2)} s  ${(capacity / fullTime / 1e6).toFixed(0)} MB/s of disk  ratio to cp ${(cpTime / fullTime).toFixed(2)}  (goal >= 0.5)`,
  );
  console.log(
    `  incremental, ${CHANGED_FRACTION * 100}% changed        ${incrementalTime.toFixed(2)} s  ratio to cp ${(cpTime / incrementalTime).toFixed(2)}  (goal: faster than borg, see core)`,
  );
  console.log(
    `  CPU seconds (engine + workers)  full ${median(full.map((one) => one.cpu)).toFixed(2)}, incremental ${median(incremental.map((one) => one.cpu)).toFixed(2)}`,
  );
  console.log(`  repository, 2 points           ${(median(sizes) / 1e6).toFixed(0)} MB`);
  console.log(`  engine busy per stage (s), full:        ${full.map((one) => one.stages).join(' | ')}`);
  console.log(`  engine busy per stage (s), incremental: ${incremental.map((one) => one.stages).join(' | ')}`);
  console.log(
    `  raw runs (s): cp ${fixed(cpTimes)} | full ${fixed(full.map((one) => one.seconds))} | incremental ${fixed(incremental.map((one) => one.seconds))}`,
  );
  console.log(
    `  page cache ${cold ? 'dropped before every timed step' : 'NOT dropped (not root)'}; load average ${loadBefore.map((load) => load.toFixed(2)).join(' ')} before, ${loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')} after`,
  );
}
