// vSphere restore of the bench VM to govmomi's vCenter simulator in each transport mode (Direct
// SAN, HotAdd, NBD), against the `cp` of the same run, and against a `cp` timed just before each
// restore (as the restore part does): this machine's disk copied the same file in 1.7 s at one
// moment and 3.2 s a few minutes later, so a `cp` timed once at the start is a loose yardstick.
// Alone: LIFEBOAT_BENCH_ONLY=vsphere npm run bench.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import type { VmBench } from './vm-bench.ts';
import { cp, dropPageCache } from './common.ts';
import type { JobEvent } from '../shared/domain.ts';
import { startVcsim, vcsimUnavailable } from '../scripts/peers/vcsim.ts';

/** Restore of the same VM to govmomi's vCenter simulator in each transport mode. */
export async function vsphereModes({ root, source, flat, capacity, cpTime, runs, timed, median }: VmBench): Promise<void> {
  const missing = vcsimUnavailable();
  if (missing) {
    console.log(`  vSphere restore per transport: skipped (${missing})`);
    return;
  }
  const vc = await startVcsim();
  const engine = await openServedEngine({ home: join(root, 'home-vsphere') });
  try {
    const backup = await engine.jobs.whenEnded((await engine.backups.start(source, 'bench')).id);
    if (backup.state !== 'succeeded') throw new Error(`backup failed: ${backup.error}`);
    await engine.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'bench');
    const lun = { LocalDS_0: vc.datastores.LocalDS_0 as string };
    engine.hosts.addProxy({ name: 'san', host: 'vc', transports: ['san'], proxyVm: null, datastorePaths: lun, maxTasks: 2 }, 'bench');
    engine.hosts.addProxy(
      { name: 'hot', host: 'vc', transports: ['hotadd'], proxyVm: 'DC0_H0_VM0', datastorePaths: lun, maxTasks: 2 },
      'bench',
    );
    const modes = [
      ['san', 'thick'],
      ['hotadd', 'thin'],
      ['nbd', 'thin'],
    ] as const;
    for (const [mode, diskFormat] of modes) {
      const times: number[] = [];
      const besideCp: number[] = [];
      // CPU seconds of this process (the engine, its block workers and V8's helper threads; vcsim
      // is another process) per restore.
      const cpuSeconds: number[] = [];
      let stages = '';
      let steps = '';
      for (let run = 0; run < runs; run++) {
        const name = `bench-${mode}-${run}`;
        // As for cp and the side-by-side part: the repository is read from the disk, not memory.
        await dropPageCache();
        besideCp.push(await timed(() => cp(flat, join(root, 'cp-beside'))));
        await rm(join(root, 'cp-beside'));
        await dropPageCache();
        const cpuBefore = process.cpuUsage();
        times.push(
          await timed(async () => {
            const job = await engine.jobs.whenEnded(
              (
                await engine.restores.start(
                  {
                    vm: 'bench',
                    point: 'latest',
                    newName: name,
                    target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_0', transport: mode, diskFormat },
                  },
                  'bench',
                )
              ).id,
            );
            if (job.state !== 'succeeded') throw new Error(`${mode} restore failed: ${job.error}`);
            stages = JSON.stringify(job.result?.stages ?? {});
            steps = stepSeconds(engine.catalog.jobEvents(job.id));
          }),
        );
        const cpu = process.cpuUsage(cpuBefore);
        cpuSeconds.push((cpu.user + cpu.system) / 1e6);
        await rm(join(lun.LocalDS_0, name), { recursive: true, force: true });
      }
      const time = median(times);
      const besideRatios = times.map((t, i) => (besideCp[i] as number) / t);
      console.log(
        `  vSphere restore, ${mode.padEnd(6)} (${diskFormat})   ${time.toFixed(2)} s  ${(capacity / time / 1e6).toFixed(0)} MB/s of disk  ratio to cp ${(cpTime / time).toFixed(2)}, to the cp just before each run ${median(besideRatios).toFixed(2)}  busy s per stage (last run) ${stages}`,
      );
      console.log(
        `    seconds per step (last run) ${steps}; raw runs (s) ${times.map((t) => t.toFixed(2)).join(' ')}; cp just before each (s) ${besideCp.map((t) => t.toFixed(2)).join(' ')}; engine CPU s per run ${cpuSeconds.map((t) => t.toFixed(2)).join(' ')}`,
      );
    }
  } finally {
    await engine.close();
    await vc.stop();
  }
}

/** Seconds from each step's start to the next one's (the last step to the job's last event):
 * the disk transfer against the vCenter calls around it. */
function stepSeconds(events: JobEvent[]): string {
  const starts = events.flatMap((event) => {
    const step = /^step (\S+) started$/.exec(event.message)?.[1];
    return step ? [{ step, at: Date.parse(event.at) }] : [];
  });
  const end = Date.parse(events.at(-1)?.at ?? '');
  return starts.map(({ step, at }, index) => `${step} ${(((starts[index + 1]?.at ?? end) - at) / 1000).toFixed(2)}`).join(', ');
}
