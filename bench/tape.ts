// Tape: the bench VM backed up to and restored from the virtual library (LTO-9 model), against
// the drive's modelled rate and the `cp` of the same run. Alone: LIFEBOAT_BENCH_ONLY=tape npm run bench.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import type { VmBench } from './vm-bench.ts';
import { dropPageCache } from './common.ts';

/** Tape: backup to and restore from the virtual library, whose drive streams at LTO-9's 400 MB/s
 * (mechanical waits scaled down). Throughput is read against that modelled rate; drive-starved
 * events say whether the engine kept the tape streaming. */
export async function tape({ root, source, capacity, cpTime, runs, timed, median }: VmBench): Promise<void> {
  const home = join(root, 'home-tape');
  const engine = await openServedEngine({ home });
  try {
    const backup = await engine.jobs.whenEnded((await engine.backups.start(source, 'bench')).id);
    if (backup.state !== 'succeeded') throw new Error(`backup failed: ${backup.error}`);
    await engine.tape.createLibrary({
      slots: 8,
      drives: 2,
      mailslots: 2,
      tapes: 4,
      capacityBytes: 4 * capacity,
      timeScale: 0.001,
      rateScale: 1,
    });
    const rate = (await engine.tape.inventory()).model.bytesPerSecond;
    let written = { bytes: 0, starved: 0 };
    const backupTime = await timed(async () => {
      const job = await engine.jobs.whenEnded((await engine.tape.startBackup(['bench'], 'bench', 'latest', 'bench')).id);
      if (job.state !== 'succeeded') throw new Error(`tape backup failed: ${job.error}`);
      const tapes = job.result?.tapes as { bytes: number; starvedEvents: number }[];
      written = { bytes: tapes.reduce((sum, t) => sum + t.bytes, 0), starved: tapes.reduce((sum, t) => sum + t.starvedEvents, 0) };
    });
    const times: number[] = [];
    let stages = '';
    const reports: { bytesRead: number; starvedEvents: number; loads: number; passes: number }[] = [];
    for (let run = 0; run < runs; run++) {
      const target = join(root, `tape-restore-${run}`);
      await dropPageCache();
      times.push(
        await timed(async () => {
          const { jobs } = await engine.tape.startRestore(
            { vms: ['bench'], point: 'latest', target: { kind: 'local', path: target } },
            'bench',
          );
          const job = await engine.jobs.whenEnded((jobs[0] as (typeof jobs)[number]).id);
          if (job.state !== 'succeeded') throw new Error(`tape restore failed: ${job.error}`);
          reports.push(...(job.result?.tapes as typeof reports));
          stages = JSON.stringify(job.result?.stages ?? {});
        }),
      );
      await rm(target, { recursive: true });
    }
    const copies = engine.catalog.tapes.copiesOf('bench');
    const perBlock = copies.reduce((sum, copy) => sum + copy.maps.length + copy.locations.length, 0);
    const time = median(times);
    const read = median(reports.map((report) => report.bytesRead));
    console.log(
      `  tape backup (LTO-9 model)      ${backupTime.toFixed(2)} s  ${(written.bytes / backupTime / 1e6).toFixed(0)} MB/s to tape  ratio to drive rate ${(written.bytes / backupTime / rate).toFixed(2)}  drive-starved events ${written.starved}`,
    );
    console.log(
      `  restore from tape              ${time.toFixed(2)} s  ${(read / time / 1e6).toFixed(0)} MB/s from tape  ratio to drive rate ${(read / time / rate).toFixed(2)}  ${(capacity / time / 1e6).toFixed(0)} MB/s of disk  ratio to cp ${(cpTime / time).toFixed(2)}`,
    );
    console.log(
      `  tape restore per run: loads ${reports.map((r) => r.loads).join(' ')}, passes ${reports.map((r) => r.passes).join(' ')}, drive-starved events ${reports.map((r) => r.starvedEvents).join(' ')}; raw runs (s) ${times.map((t) => t.toFixed(2)).join(' ')}`,
    );
    console.log(`  tape restore busy seconds per stage (last run, all workers): ${stages}`);
    const sustained = read / time;
    console.log(
      `  streaming: the engine took ${(sustained / 1e6).toFixed(0)} MB/s from tape; an LTO-9 matches speed down to 177 MB/s, so a restore longer than the drive's buffer would ${sustained >= 177e6 ? 'keep it streaming' : 'make it stop and backhitch (shoe-shine) on this machine'}`,
    );
    console.log(
      `  tape catalog: ${(perBlock / 1024).toFixed(0)} KiB of maps and locations = ${(((perBlock / capacity) * 2 ** 40) / 1e6).toFixed(1)} MB per TiB of disk (goal <= 50 MB)`,
    );
  } finally {
    await engine.close();
    await rm(home, { recursive: true, force: true });
  }
}
