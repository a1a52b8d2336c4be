// LIFEBOAT_BENCH_ONLY=restore: the core's entire-VM restore alone, against `cp` + `sync` of the
// same flat disk in the same run (page cache dropped before each, as the side-by-side part does),
// with the job's step seconds and the data movers' busy seconds per stage (where the time goes).
import { rm, stat } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { dropPageCache } from './common.ts';
import { stepDurations } from './side-by-side-tools.ts';

export type RestoreOnlyBench = {
  root: string;
  source: string;
  flat: string;
  capacity: number;
  runs: number;
  cp(from: string, to: string): void;
  timed(fn: () => Promise<void> | void): Promise<number>;
  median(values: number[]): number;
};

export async function restoreOnly(bench: RestoreOnlyBench): Promise<void> {
  const { root, source, flat, capacity, runs, timed, median } = bench;
  console.log(`Lifeboat bench, entire VM restore only: ${capacity / 2 ** 30} GiB VM, ${runs} runs, medians`);
  const engine = await openServedEngine({ home: join(root, 'home-restore-only') });
  const cpTimes: number[] = [];
  const restoreTimes: number[] = [];
  const stageRuns: string[] = [];
  const stepRuns: string[] = [];
  const loadBefore = loadavg();
  const cold = await dropPageCache();
  const step = async (fn: () => Promise<void>): Promise<number> => {
    if (cold) await dropPageCache();
    return timed(fn);
  };
  try {
    const backup = await engine.jobs.whenEnded((await engine.backups.start(source, 'bench')).id);
    if (backup.state !== 'succeeded') throw new Error(`backup failed: ${backup.error}`);
    for (let run = 0; run < runs; run++) {
      const copy = join(root, `cp-only-${run}`);
      cpTimes.push(await step(async () => bench.cp(flat, copy)));
      await rm(copy);
      const target = join(root, `restore-only-${run}`);
      restoreTimes.push(
        await step(async () => {
          const job = await engine.jobs.whenEnded(
            (await engine.restores.start({ vm: 'bench', point: 'latest', target: { kind: 'local', path: target } }, 'bench')).id,
          );
          if (job.state !== 'succeeded') throw new Error(`restore failed: ${job.error}`);
          stepRuns.push(stepDurations(engine.catalog.jobEvents(job.id)));
          const stages = (job.result?.stages ?? {}) as Record<string, number>;
          stageRuns.push(
            Object.entries(stages)
              .map(([stage, seconds]) => `${stage} ${seconds.toFixed(2)}`)
              .join(', '),
          );
        }),
      );
      if ((await stat(join(target, 'bench-flat.vmdk'))).size !== capacity) throw new Error('restored disk has the wrong size');
      await rm(target, { recursive: true });
    }
  } finally {
    await engine.close();
  }
  const cpTime = median(cpTimes);
  const restoreTime = median(restoreTimes);
  console.log(`  cp --sparse=auto + sync        ${cpTime.toFixed(2)} s`);
  console.log(
    `  entire VM restore (latest)     ${restoreTime.toFixed(2)} s  ${(capacity / restoreTime / 1e6).toFixed(0)} MB/s of disk  ratio to cp ${(cpTime / restoreTime).toFixed(2)}  (goal >= 0.85)`,
  );
  console.log(`  restore steps (s, per run): ${stepRuns.join(' | ')}`);
  console.log(`  data movers busy (s, summed over workers, per run): ${stageRuns.join(' | ')}`);
  console.log(
    `  raw runs (s): cp ${cpTimes.map((t) => t.toFixed(2)).join(' ')} | restore ${restoreTimes.map((t) => t.toFixed(2)).join(' ')} | ratios ${cpTimes.map((t, i) => (t / (restoreTimes[i] as number)).toFixed(2)).join(' ')}`,
  );
  const load = (figures: number[]): string => figures.map((figure) => figure.toFixed(2)).join(' ');
  console.log(
    `  page cache ${cold ? 'dropped before every timed step' : 'NOT dropped (not root): warm caches'}; load average ${load(loadBefore)} before, ${load(loadavg())} after`,
  );
}
