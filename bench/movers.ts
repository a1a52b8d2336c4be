// Restores to govmomi's vCenter simulator (Direct SAN, thick) through data movers — real
// `lifeboat mover` processes on loopback — against the engine's in-process block workers writing
// the same datastore view: one disk through 1 mover, two VMs at once through 2 movers; and the
// mover's peak memory (VmHWM) when its writer is slow (LIFEBOAT_MOVER_WRITE_BPS) against fast:
// the credit window must keep it flat. Alone: LIFEBOAT_BENCH_ONLY=movers npm run bench
// (LIFEBOAT_BENCH_MOVERS_MIB sets each disk's size, default 512).
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../electron/engine/engine.ts';
import { vmxText } from '../electron/lab/create-lab.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { listenForMovers } from '../electron/rpc/mover-listener.ts';
import { MoverProcess } from '../scripts/peers/mover.ts';
import { startVcsim, vcsimUnavailable } from '../scripts/peers/vcsim.ts';
import { makeSourceVm, MIB } from './common.ts';

type Timer = (fn: () => Promise<void> | void) => Promise<number>;

const DISK_MIB = Number(process.env.LIFEBOAT_BENCH_MOVERS_MIB ?? '512');
/** The slow writer: well below what this machine's disk takes. */
const SLOW_BPS = 32 * MIB;

/** Two VMs of the same guest-like disk, under different names and UUIDs (one job per VM). */
async function twoVms(root: string, capacity: number): Promise<string[]> {
  const { source } = await makeSourceVm(join(root, 'movers-vm'), capacity);
  const second = join(root, 'movers-vm2');
  await mkdir(second, { recursive: true });
  await copyFile(join(source, 'bench-flat.vmdk'), join(second, 'bench-flat.vmdk'));
  await copyFile(join(source, 'bench.vmdk'), join(second, 'bench.vmdk'));
  await writeFile(join(second, 'bench.vmx'), vmxText('bench2', ['bench.vmdk'], '43 43 43 43 43 43 43 43-43 43 43 43 43 43 43 43'));
  return [source, second];
}

async function restoreAll(engine: Engine, vms: string[], tag: string): Promise<Record<string, string[]>> {
  const jobs = await Promise.all(
    vms.map((vm) =>
      engine.restores.start(
        {
          vm,
          point: 'latest',
          newName: `${vm}-${tag}`,
          target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_0', transport: 'san', diskFormat: 'thick' },
        },
        'bench',
      ),
    ),
  );
  const carried: Record<string, string[]> = {};
  for (const job of jobs) {
    const ended = await engine.jobs.whenEnded(job.id);
    if (ended.state !== 'succeeded') throw new Error(`restore ${tag} failed: ${ended.error}`);
    Object.assign(carried, ended.result?.movers ?? {});
  }
  return carried;
}

export async function moverBench(root: string, runs: number, timed: Timer, median: (values: number[]) => number): Promise<void> {
  const missing = vcsimUnavailable();
  if (missing) {
    console.log(`  restore through data movers: skipped (${missing})`);
    return;
  }
  const capacity = DISK_MIB * MIB;
  const sources = await twoVms(root, capacity);
  const vc = await startVcsim();
  const engine = await openServedEngine({ home: join(root, 'home-movers') });
  const listener = await listenForMovers(engine, { host: '127.0.0.1', port: 0 });
  const movers: MoverProcess[] = [];
  const lun = vc.datastores.LocalDS_0 as string;
  try {
    for (const source of sources) {
      const backup = await engine.jobs.whenEnded((await engine.backups.start(source, 'bench')).id);
      if (backup.state !== 'succeeded') throw new Error(`backup failed: ${backup.error}`);
    }
    await engine.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'bench');
    const vms = ['bench', 'bench2'];
    let tag = 0;
    const measure = async (count: number): Promise<number> => {
      const times: number[] = [];
      for (let run = 0; run < runs; run++) {
        const name = `r${tag++}`;
        times.push(await timed(async () => void (await restoreAll(engine, vms.slice(0, count), name))));
        for (const vm of vms) await rm(join(lun, `${vm}-${name}`), { recursive: true, force: true });
      }
      return median(times);
    };
    const report = (label: string, disks: number, seconds: number, against?: number): void =>
      console.log(
        `  ${label.padEnd(44)} ${seconds.toFixed(2)} s  ${((disks * capacity) / seconds / 1e6).toFixed(0)} MB/s of disk${against ? `  ratio to in-process ${(against / seconds).toFixed(2)}` : ''}`,
      );

    engine.hosts.addProxy(
      { name: 'in-process', host: 'vc', transports: ['san'], proxyVm: null, datastorePaths: { LocalDS_0: lun }, maxTasks: 2 },
      'bench',
    );
    const local1 = await measure(1);
    const local2 = await measure(2);
    report('in-process workers, 1 disk', 1, local1);
    report('in-process workers, 2 VMs at once', 2, local2);
    engine.hosts.removeProxy('in-process', 'bench');

    const start = async (name: string, env: Record<string, string> = {}): Promise<MoverProcess> => {
      const { token } = engine.enrollment.add({ name, host: 'vc', proxyVm: null }, 'bench');
      const mover = new MoverProcess({
        engine: listener.address,
        state: join(root, `mover-state-${name}`),
        token,
        datastores: { LocalDS_0: lun },
        transports: ['san'],
        slots: 1,
        env,
      });
      movers.push(mover);
      await mover.waitFor('connected');
      return mover;
    };
    const first = await start('mover-1');
    const mover1 = await measure(1);
    report('1 mover, 1 disk', 1, mover1, local1);
    const fastPeak = first.peakRss();
    const second = await start('mover-2');
    const mover2 = await measure(2);
    report('2 movers, 2 VMs at once', 2, mover2, local2);
    await first.stop();
    await second.stop();

    const slow = await start('mover-slow', { LIFEBOAT_MOVER_WRITE_BPS: String(SLOW_BPS) });
    const slowTime = await timed(async () => void (await restoreAll(engine, ['bench'], 'slow')));
    const slowPeak = slow.peakRss();
    await slow.stop();
    const mib = (bytes: number | null): string => (bytes === null ? '?' : `${(bytes / MIB).toFixed(0)} MiB`);
    console.log(
      `  mover peak RSS: fast writer ${mib(fastPeak)}, slow writer (${SLOW_BPS / MIB} MiB/s, ${slowTime.toFixed(1)} s) ${mib(slowPeak)}` +
        (fastPeak && slowPeak ? `  ratio slow/fast ${(slowPeak / fastPeak).toFixed(2)}` : ''),
    );
  } finally {
    for (const mover of movers) await mover.stop();
    await listener.close();
    await engine.close();
    await vc.stop();
  }
}
