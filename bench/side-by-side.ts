// The core part of `npm run bench`: Lifeboat against restic and borg on the same flat disk in the
// same run — full backup, incremental after 5% of the 1 MiB blocks changed, restore of the latest
// point (synced, like the reference), repository size — each a median of `runs` with a fresh
// repository per tool and run, and each time's ratio to `cp --sparse=auto` + `sync` of the disk.
// Alone: LIFEBOAT_BENCH_ONLY=core npm run bench. What the numbers mean: docs/benchmarks.md.
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { changedBlocks, cp, dropPageCache, MIB, median, overwriteBlocks, timed } from './common.ts';
import { type BackupTool, type BenchVm, LifeboatTool, peerTools } from './side-by-side-tools.ts';
import { printSideBySide, type ToolRuns } from './side-by-side-table.ts';

/** The share of the disk's blocks the incremental finds changed (issue 21). */
const CHANGED_FRACTION = 0.05;
const CHANGE_SEED = 21;

/** Fails loudly when a tool's restored disk is not the source's bytes: the bench itself is wrong then. */
function checkRestored(tool: BackupTool, flat: string, restored: string): void {
  try {
    execFileSync('cmp', ['--silent', flat, restored]);
  } catch {
    throw new Error(`${tool.name} restored ${restored}, which differs from the source disk ${flat}: the side-by-side figures are void`);
  }
}

/** The tools in another order each run, so that none always goes first after the cache drop. */
function rotated<T>(items: T[], by: number): T[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

export async function sideBySide(
  root: string,
  runs: number,
  vm: BenchVm & { dataBytes: number },
  capacity: number,
): Promise<{ cpTime: number }> {
  const started = performance.now();
  const loadBefore = loadavg();
  const lifeboat = new LifeboatTool(root, vm);
  const sealed = new LifeboatTool(root, vm, 'bench password');
  const peers = peerTools(root, vm);
  const tools = [lifeboat, ...peers.tools];
  const measured = new Map<BackupTool, ToolRuns>(tools.map((tool) => [tool, { full: [], incremental: [], restore: [], bytes: [] }]));
  const cpTimes: number[] = [];
  const sealedFull: number[] = [];
  const blocks = changedBlocks(capacity, CHANGED_FRACTION, CHANGE_SEED);
  const cold = await dropPageCache();
  const step = async (fn: () => Promise<void> | void): Promise<number> => {
    if (cold) await dropPageCache();
    return timed(fn);
  };
  for (let run = 0; run < runs; run++) {
    // The copy is also the disk as it was before this run's change, put back after the run.
    const copy = join(root, `cp-${run}`);
    cpTimes.push(await step(() => cp(vm.flat, copy)));
    const order = rotated(tools, run);
    try {
      for (const tool of order) await tool.open(run);
      for (const tool of order) (measured.get(tool) as ToolRuns).full.push(await step(() => tool.full()));
      await sealed.open(run);
      sealedFull.push(await step(() => sealed.full()).finally(() => sealed.close()));
      // The same blocks for every tool and in every run (new random bytes each time).
      await overwriteBlocks(vm.flat, blocks);
      for (const tool of order) (measured.get(tool) as ToolRuns).incremental.push(await step(() => tool.incremental()));
      for (const tool of order) {
        const target = join(root, `restore-${run}`);
        let restored = '';
        const time = await step(async () => {
          restored = await tool.restore(target);
          execFileSync('sync', [restored]);
        });
        (measured.get(tool) as ToolRuns).restore.push(time);
        if (run === 0) checkRestored(tool, vm.flat, restored);
        await rm(target, { recursive: true });
      }
      for (const tool of order) (measured.get(tool) as ToolRuns).bytes.push(tool.repositoryBytes());
    } finally {
      for (const tool of order) await tool.close();
      await rename(copy, vm.flat);
    }
  }
  const cpTime = median(cpTimes);
  console.log(
    `Lifeboat bench, side by side: ${capacity / 2 ** 30} GiB flat disk (${(vm.dataBytes / 2 ** 30).toFixed(2)} GiB of data: ` +
      `half incompressible, half log text; the rest never written), incremental after ${CHANGED_FRACTION * 100}% of its ` +
      `${capacity / MIB} 1 MiB blocks got random bytes (put back after each run), ${runs} runs, medians`,
  );
  printSideBySide({ tools: [...measured].map(([tool, runs]) => ({ tool, runs })), cpTimes, capacity });
  for (const line of peers.skipped) console.log(`  ${line}`);
  const sealedTime = median(sealedFull);
  console.log(
    `  ${sealed.name} full backup ${sealedTime.toFixed(1)} s ${(cpTime / sealedTime).toFixed(2)}x (${sealed.settings}); ` +
      `raw runs (s) ${sealedFull.map((t) => t.toFixed(2)).join(' ')}`,
  );
  console.log(`  Lifeboat restore steps (last run, s): ${lifeboat.restoreSteps}`);
  console.log(
    `  page cache: ${cold ? 'dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every timed step, cp and every tool alike' : 'NOT dropped (/proc/sys/vm/drop_caches not writable): every step ran with warm caches'}`,
  );
  console.log(
    `  each tool's restored disk compared with cmp against the source once (first run): identical; ` +
      `load average ${loadBefore.map((load) => load.toFixed(2)).join(' ')} before, ${loadavg()
        .map((load) => load.toFixed(2))
        .join(' ')} after; side by side took ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  return { cpTime };
}
