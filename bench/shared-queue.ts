// LIFEBOAT_BENCH_ONLY=queue: jobs per second through the job queue engines share (serve --shared:
// pg-boss on a real PostgreSQL on loopback, started here), with one engine and with two, beside
// the same jobs on a lone engine with its SQLite catalog: JOBS restores of 4 small VMs (1 MiB each,
// so the queue's own cost shows; one job per VM at a time), from the first queued to the last ended.
// The first engine runs in this process (it queues the jobs and hears them end); the second is a
// `lifeboat serve --shared` process of its own, as on a second workstation.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../electron/engine/engine.ts';
import { useCatalog } from '../electron/home.ts';
import { vmxText } from '../electron/lab/create-lab.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { postgresMissing, startPostgres, type PostgresPeer } from '../scripts/peers/postgresql.ts';
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
  let second: { stop(): Promise<void> } | null = null;
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
      second = await serveShared(homes[1] as string);
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
    await second?.stop();
    for (const engine of opened.reverse()) await engine.close();
  }
}

/** `lifeboat --home HOME serve --shared`, once it serves (it prints its URL); stop() ends it with
 * SIGTERM (its jobs go back to the queue) and waits, or SIGKILL after a minute. */
async function serveShared(home: string): Promise<{ stop(): Promise<void> }> {
  const cli = join(import.meta.dirname, '..', 'electron', 'cli', 'main.ts');
  const child = spawn(process.execPath, [cli, '--home', home, 'serve', '--shared', '--port', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(killer);
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let printed = '';
      child.stdout.on('data', (chunk: Buffer) => {
        printed += chunk.toString();
        if (printed.includes('\n')) resolve();
      });
      void exited.then(() => reject(new Error(`serve --shared ended before it served: ${stderr}`)));
      setTimeout(() => reject(new Error(`serve --shared did not start in 60 s: ${stderr}`)), 60_000).unref();
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { stop };
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
