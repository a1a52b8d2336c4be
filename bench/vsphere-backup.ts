// Backup from vSphere (govmomi's simulator) in each transport (NBD, HotAdd, Direct SAN) of the
// bench VM restored there first, against a backup of the same VM folder on the local disk in the
// same run. Every run is a full backup into a fresh home. Alone: LIFEBOAT_BENCH_ONLY=vsphere-backup.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../electron/engine/engine.ts';
import type { Job } from '../shared/domain.ts';
import { startVcsim, vcsimUnavailable } from '../scripts/peers/vcsim.ts';
import { homeWithSimulator } from './vcsim-home.ts';
import type { VmBench } from './vm-bench.ts';

const VM = 'bench-vs';

function succeeded(job: Job, what: string): Job {
  if (job.state !== 'succeeded') throw new Error(`${what} failed: ${job.error}`);
  return job;
}

export async function vsphereBackup({ root, source, capacity, runs, timed, median }: VmBench): Promise<void> {
  const missing = vcsimUnavailable();
  if (missing) {
    console.log(`  vSphere backup per transport: skipped (${missing})`);
    return;
  }
  const vc = await startVcsim();
  try {
    // The VM on the simulator's datastore: the bench folder backed up and restored there.
    const setup = await homeWithSimulator(join(root, 'home-vsphere-backup-setup'), vc);
    try {
      succeeded(await setup.jobs.whenEnded((await setup.backups.start(source, 'bench')).id), 'local backup');
      const target = { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_0', transport: 'nbd' } as const;
      const restore = await setup.restores.start({ vm: 'bench', point: 'latest', newName: VM, target }, 'bench');
      succeeded(await setup.jobs.whenEnded(restore.id), 'restore to the simulator');
    } finally {
      await setup.close();
    }
    const measure = async (label: string, backUp: (engine: Engine) => Promise<Job>): Promise<{ time: number; result: Job['result'] }> => {
      const times: number[] = [];
      let result: Job['result'] = null;
      for (let run = 0; run < runs; run++) {
        const home = join(root, `home-vsphere-backup-${run}`);
        const engine = await homeWithSimulator(home, vc);
        try {
          times.push(
            await timed(async () => {
              result = succeeded(await engine.jobs.whenEnded((await backUp(engine)).id), label).result;
            }),
          );
        } finally {
          await engine.close();
          await rm(home, { recursive: true, force: true });
        }
      }
      return { time: median(times), result };
    };
    const local = await measure('local backup', (engine) => engine.backups.start(source, 'bench'));
    console.log(
      `  backup of the VM folder (local disk)   ${local.time.toFixed(2)} s  ${(capacity / local.time / 1e6).toFixed(0)} MB/s of disk`,
    );
    for (const transport of ['nbd', 'hotadd', 'san'] as const) {
      const { time, result } = await measure(`${transport} backup`, (engine) =>
        engine.backups.startFromVsphere({ host: 'vc', vm: VM, transport, quiesce: false }, 'bench'),
      );
      console.log(
        `  vSphere backup, ${transport.padEnd(6)}                ${time.toFixed(2)} s  ${(capacity / time / 1e6).toFixed(0)} MB/s of disk  ratio to local ${(local.time / time).toFixed(2)}  busy s per stage (last run) ${JSON.stringify(result?.stages ?? {})}`,
      );
    }
  } finally {
    await vc.stop();
  }
}
