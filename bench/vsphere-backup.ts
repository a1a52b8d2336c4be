// Backup from vSphere per transport (NBD, HotAdd, Direct SAN): a VM with a 1 GiB guest-like disk is
// restored into govmomi's vCenter simulator, then backed up from there, against a backup of the same
// VM folder on the local disk in the same run. Every backup is a full one into a fresh home (a
// second backup of the same VM would be an incremental). Alone: LIFEBOAT_BENCH_ONLY=vsphere-backup.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../electron/engine/engine.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { startVcsim, vcsimUnavailable, type Vcsim } from '../scripts/peers/vcsim.ts';
import { makeSourceVm, MIB } from './common.ts';

const CAPACITY = 1024 * MIB;
const DATASTORE = 'LocalDS_0';
const VM = 'bench-vs';
const TRANSPORTS = ['nbd', 'hotadd', 'san'] as const;

type Timer = (fn: () => Promise<void> | void) => Promise<number>;

async function succeeded(engine: Engine, started: Promise<{ id: string }> | { id: string }, what: string): Promise<void> {
  const job = await engine.jobs.whenEnded((await started).id);
  if (job.state !== 'succeeded') throw new Error(`${what} failed: ${job.error}`);
}

/** The simulator as host "vc", with a SAN proxy that sees the datastore and a HotAdd proxy VM. */
async function addSimulator(engine: Engine, vc: Vcsim): Promise<void> {
  await engine.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'bench');
  const lun = { [DATASTORE]: vc.datastores[DATASTORE] as string };
  engine.hosts.addProxy({ name: 'san', host: 'vc', transports: ['san'], proxyVm: null, datastorePaths: lun, maxTasks: 2 }, 'bench');
  engine.hosts.addProxy(
    { name: 'hot', host: 'vc', transports: ['hotadd'], proxyVm: 'DC0_H0_VM0', datastorePaths: lun, maxTasks: 2 },
    'bench',
  );
}

/** Seconds of one full backup in a home of its own (set up by `prepare`, untimed), removed afterwards. */
async function fullBackup(
  home: string,
  timed: Timer,
  prepare: (engine: Engine) => Promise<void>,
  backUp: (engine: Engine) => Promise<{ id: string }>,
): Promise<number> {
  const engine = await openServedEngine({ home });
  try {
    await prepare(engine);
    return await timed(() => succeeded(engine, backUp(engine), 'backup'));
  } finally {
    await engine.close();
    await rm(home, { recursive: true, force: true });
  }
}

export async function vsphereBackup(root: string, runs: number, timed: Timer, median: (values: number[]) => number): Promise<void> {
  const missing = vcsimUnavailable();
  if (missing) {
    console.log(`  vSphere backup per transport: skipped (${missing})`);
    return;
  }
  const folder = join(root, 'vsphere-backup');
  await mkdir(folder, { recursive: true });
  const { source } = await makeSourceVm(folder, CAPACITY);
  const vc = await startVcsim();
  try {
    // The VM on the simulator: the local VM backed up once and restored there (thick, so every byte is in its flat file).
    const setup = await openServedEngine({ home: join(folder, 'home-setup') });
    try {
      await succeeded(setup, setup.backups.start(source, 'bench'), 'local backup');
      await addSimulator(setup, vc);
      const target = { kind: 'vsphere', host: 'vc', datastore: DATASTORE, transport: 'san', diskFormat: 'thick' } as const;
      await succeeded(setup, setup.restores.start({ vm: 'bench', point: 'latest', newName: VM, target }, 'bench'), 'restore to vcsim');
    } finally {
      await setup.close();
      await rm(join(folder, 'home-setup'), { recursive: true, force: true });
    }
    // Each run backs up the local folder and then from vSphere in each transport, so a change in
    // the machine's load falls on all of them alike.
    const times = { local: [] as number[], nbd: [] as number[], hotadd: [] as number[], san: [] as number[] };
    for (let run = 0; run < runs; run++) {
      times.local.push(
        await fullBackup(
          join(folder, `home-local-${run}`),
          timed,
          async () => undefined,
          (engine) => engine.backups.start(source, 'bench'),
        ),
      );
      for (const transport of TRANSPORTS)
        times[transport].push(
          await fullBackup(
            join(folder, `home-${transport}-${run}`),
            timed,
            (engine) => addSimulator(engine, vc),
            (engine) => engine.backups.startFromVsphere({ host: 'vc', vm: VM, transport, quiesce: false }, 'bench'),
          ),
        );
    }
    const runsOf = (values: number[]): string => values.map((time) => time.toFixed(2)).join(' ');
    const localTime = median(times.local);
    console.log(
      `  backup of the local VM folder  ${localTime.toFixed(2)} s  ${(CAPACITY / localTime / 1e6).toFixed(0)} MB/s of disk (1 GiB guest-like disk; runs ${runsOf(times.local)})`,
    );
    for (const transport of TRANSPORTS) {
      const time = median(times[transport]);
      console.log(
        `  vSphere backup, ${transport.padEnd(6)}        ${time.toFixed(2)} s  ${(CAPACITY / time / 1e6).toFixed(0)} MB/s of disk  ratio to the local-folder backup ${(localTime / time).toFixed(2)} (runs ${runsOf(times[transport])}; vcsim host)`,
      );
    }
  } finally {
    await vc.stop();
    await rm(folder, { recursive: true, force: true });
  }
}
