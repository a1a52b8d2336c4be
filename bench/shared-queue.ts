// LIFEBOAT_BENCH_ONLY=queue: jobs per second through the job queue engines share (serve --shared:
// pg-boss on a real PostgreSQL on loopback, started here), with one engine and with two, beside
// the same jobs on a lone engine with its SQLite catalog: JOBS restores of 4 small VMs (1 MiB each,
// so the queue's own cost shows; one job per VM at a time), from the first queued to the last ended.
// The first engine runs in this process (it queues the jobs and hears them end); the second is a
// `lifeboat serve --shared` process of its own, as on a second workstation.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../electron/engine/engine.ts';
import { useCatalog } from '../electron/home.ts';
import { vmxText } from '../electron/lab/create-lab.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { postgresMissing, startPostgres, type PostgresPeer } from '../scripts/peers/postgresql.ts';
import { spawnServe, type ServeChild } from '../scripts/serve-child.ts';
import { makeDisk, MIB, timed } from './common.ts';

const JOBS = Number(process.env.LIFEBOAT_BENCH_QUEUE_JOBS ?? '100');
const VMS = ['q1', 'q2', 'q3', 'q4'];

async function makeVm(folder: string, name: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  await makeDisk(join(folder, `${name}-flat.vmdk`), MIB);
  await writeFile(
    join(folder, `${name}.vmdk`),
    `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW ${MIB / 512} FLAT "${name}-flat.vmdk" 0\n`,
  );
  const uuid = `42 42 42 42 42 42 42 ${VMS.indexOf(name)}0-42 42 42 42 42 42 42 42`;
  await writeFile(join(folder, `${name}.vmx`), vmxText(name, [`${name}.vmdk`], uuid));
}

/** Waits until no job of the catalog is queued or running (backups' index jobs included). */
async function settled(engine: Engine): Promise<void> {
  for (let look = 0; look < 6000 && engine.catalog.jobsInState(['queued', 'running']).length > 0; look++)
    await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Seconds for JOBS restores queued on the first engine, `engines` of them sharing the catalog. */
async function run(work: string, vms: string, engines: number, server: PostgresPeer | null): Promise<number> {
  const homes = [join(work, 'a'), join(work, 'b')];
  const url = server ? await server.newDatabase() : null;
  if (url) for (const home of homes) await useCatalog(home, url);
  const opened: Engine[] = [];
  let second: ServeChild | null = null;
  try {
    const first = await openServedEngine({ home: homes[0] as string, shared: url !== null });
    opened.push(first);
    for (const name of VMS) {
      const backup = await first.jobs.whenEnded((await first.backups.start(join(vms, name), 'bench')).id);
      if (backup.state !== 'succeeded') throw new Error(`backup of ${name} failed: ${backup.error}`);
    }
    await settled(first);
    if (engines === 2) {
      await mkdir(join(homes[1] as string, 'repositories'), { recursive: true });
      await symlink(join(homes[0] as string, 'repositories', 'default'), join(homes[1] as string, 'repositories', 'default'));
      second = await spawnServe(process.env, homes[1] as string, ['--shared']);
    }
    return await timed(async () => {
      const queued = [];
      for (let index = 0; index < JOBS; index++) {
        const vm = VMS[index % VMS.length] as string;
        queued.push(
          await first.restores.start({ vm, point: 'latest', target: { kind: 'local', path: join(work, 'out', String(index)) } }, 'bench'),
        );
      }
      for (const job of await Promise.all(queued.map((job) => first.jobs.whenEnded(job.id))))
        if (job.state !== 'succeeded') throw new Error(`${job.summary} failed: ${job.error}`);
    });
  } finally {
    if (second) await stopServe(second);
    for (const engine of opened.reverse()) await engine.close();
  }
}

/** Ends a serve with SIGTERM (its jobs go back to the queue), or SIGKILL past a minute. */
async function stopServe(serve: ServeChild): Promise<void> {
  const killer = setTimeout(() => void serve.kill('SIGKILL'), 60_000);
  await serve.stop();
  clearTimeout(killer);
}

export async function queueBench(root: string): Promise<void> {
  console.log(`Lifeboat bench, jobs through the shared queue: ${JOBS} restores of ${VMS.length} VMs of 1 MiB, one run each`);
  const missing = postgresMissing();
  if (missing !== null) {
    console.log(`  ${missing}: the shared queue is not measured`);
    return;
  }
  const work = await mkdtemp(join(root, 'queue-'));
  const server = await startPostgres();
  try {
    const vms = join(work, 'vms');
    for (const name of VMS) await makeVm(join(vms, name), name);
    const lone = await run(join(work, 'lone'), vms, 1, null);
    const one = await run(join(work, 'one'), vms, 1, server);
    const two = await run(join(work, 'two'), vms, 2, server);
    console.log(`  | engines | catalog and queue | seconds | jobs/s | to the lone engine |`);
    console.log(`  | --- | --- | --- | --- | --- |`);
    for (const [engines, catalog, seconds] of [
      ['1, lone', 'SQLite, the engine’s own queue', lone],
      ['1, --shared', 'PostgreSQL + pg-boss', one],
      ['2, --shared', 'PostgreSQL + pg-boss', two],
    ] as const)
      console.log(
        `  | ${engines} | ${catalog} | ${seconds.toFixed(2)} | ${(JOBS / seconds).toFixed(1)} | ${(lone / seconds).toFixed(2)}× |`,
      );
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}
