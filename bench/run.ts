// `npm run bench`: backup and restore throughput of a VM of LIFEBOAT_BENCH_GIB GiB (default 2),
// each against `cp` of the same bytes on the same disk, measured in this one run. Medians of
// LIFEBOAT_BENCH_RUNS runs (default 3); the machine is shared and noisy, so read the ratios.
// Each part, its LIFEBOAT_BENCH_ONLY key and what its numbers mean: docs/benchmarks.md.
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../electron/engine/engine.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { startVcsim, vcsimUnavailable } from '../scripts/peers/vcsim.ts';
import { resolvePoint } from '../electron/repository/chain.ts';
import { PointDisk } from '../electron/repository/point-disk.ts';
import { WorkerPool, workerDecoder } from '../electron/workers/pool.ts';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright';
import { buildAll } from '../scripts/build.ts';
import { cancelJobs, measureQueue, queueJobs } from './queue-load.ts';
import { filesGet } from './files-get.ts';
import { instantGuest } from './instant-guest.ts';
import { instantMass } from './instant-mass.ts';
import { tapeIscsi } from './tape-iscsi.ts';
import { cp, dropPageCache, makeSourceVm, median, MIB, timed } from './common.ts';
import { sideBySide } from './side-by-side.ts';
import { thinDisk } from './thin-disk.ts';
import { restoreOnly } from './restore-only.ts';
import { backupOnly } from './backup-only.ts';
import { tape } from './tape.ts';
import { vsphereModes } from './vsphere-modes.ts';
import { vsphereBackup } from './vsphere-backup.ts';
import { moverBench } from './movers.ts';
import { cliStart } from './cli-start.ts';
import { catalogBench } from './catalog.ts';
import { queueBench } from './shared-queue.ts';
import { itemLevel } from './items.ts';

const gib = Number(process.env.LIFEBOAT_BENCH_GIB ?? '2');
const runs = Number(process.env.LIFEBOAT_BENCH_RUNS ?? '3');
const root = await mkdtemp(join(process.env.LIFEBOAT_BENCH_DIR ?? tmpdir(), 'lifeboat-bench-'));
// The benchmark's throwaway homes keep their generated secrets keys with them, not in the user's config.
process.env.LIFEBOAT_KEYS_DIR = join(root, 'keys');

/** Instant Recovery: the restore point's flat disk read sequentially over NFS (libnfs's
 * nfs-cat, as a host would read it) against the same point read locally in 1 MiB reads; and per
 * session on vcsim, the time from the request to the VM powered on and to the first NFS read. */
async function instantRecovery(source: string, capacity: number): Promise<void> {
  const missing = vcsimUnavailable();
  const nfsCat = spawnSync('nfs-cat', ['--help'], { stdio: 'ignore' }).error ? 'no nfs-cat (libnfs-utils)' : null;
  if (missing || nfsCat) {
    console.log(`  instant recovery: skipped (${missing ?? nfsCat})`);
    return;
  }
  const home = join(root, 'home-instant');
  await mkdir(join(home, 'instant'), { recursive: true });
  const vc = await startVcsim({ cwd: join(home, 'instant') });
  const engine = await openServedEngine({ home });
  try {
    const backup = await engine.jobs.whenEnded((await engine.backups.start(source, 'bench')).id);
    if (backup.state !== 'succeeded') throw new Error(`backup failed: ${backup.error}`);
    await engine.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'bench');
    const vmId = engine.lookup.resolveVm('bench').id;
    const point = await resolvePoint(engine.repository, vmId, engine.lookup.resolvePointId(vmId, 'latest'));
    const localTimes: number[] = [];
    const nfsTimes: number[] = [];
    const poweredOn: number[] = [];
    const firstRead: number[] = [];
    // The same data path as the NFS export (block workers, read-ahead), without NFS.
    const pool = new WorkerPool();
    for (let run = 0; run < runs; run++) {
      const disk = new PointDisk(point, point.point.disks[0]?.key as string, {
        cacheBlocks: 64,
        decode: workerDecoder(pool),
        readAhead: 8,
      });
      localTimes.push(
        await timed(async () => {
          for (let offset = 0; offset < capacity; offset += MIB) await disk.read(offset, MIB);
        }),
      );
      await disk.close();
      const { job, session } = await engine.instant.start({ vm: 'bench', point: 'latest', host: 'vc', listen: '127.0.0.1:0' }, 'bench');
      const started = await engine.jobs.whenEnded(job.id);
      if (started.state !== 'succeeded') throw new Error(`instant recovery failed: ${started.error}`);
      const url = new URL(engine.instant.list().find((listed) => listed.id === session.id)?.nfsUrl ?? '');
      // Asynchronously: the NFS server answers from this process's event loop.
      nfsTimes.push(
        await timed(async () => {
          const reader = spawn('nfs-cat', [`nfs://${url.host}${url.pathname}/bench/bench-flat.vmdk${url.search}`], {
            stdio: ['ignore', 'ignore', 'inherit'],
          });
          const code = await new Promise((resolve) => reader.once('exit', resolve));
          if (code !== 0) throw new Error(`nfs-cat exited with ${code}`);
        }),
      );
      const measured = engine.instant.list().find((listed) => listed.id === session.id);
      poweredOn.push(measured?.poweredOnSeconds ?? NaN);
      firstRead.push(measured?.firstReadSeconds ?? NaN);
      const stop = await engine.jobs.whenEnded(engine.instant.stop(session.id, 'bench').id);
      if (stop.state !== 'succeeded') throw new Error(`stop failed: ${stop.error}`);
    }
    const local = median(localTimes);
    const nfs = median(nfsTimes);
    await pool.close();
    console.log(
      `  instant recovery, NFS read     ${nfs.toFixed(2)} s  ${(capacity / nfs / 1e6).toFixed(0)} MB/s sequential over NFS (nfs-cat)  ratio to reading the point locally ${(local / nfs).toFixed(2)} (goal >= 0.7; local ${(capacity / local / 1e6).toFixed(0)} MB/s through the same workers and read-ahead)`,
    );
    console.log(
      `  instant recovery, per session  powered on ${median(poweredOn).toFixed(2)} s after the request; first NFS read ${median(firstRead).toFixed(2)} s after it (goal < 2 s; vcsim host, the reader starts once the VM runs)`,
    );
    console.log(
      `  instant recovery raw runs (s): local ${localTimes.map((t) => t.toFixed(2)).join(' ')} | nfs ${nfsTimes.map((t) => t.toFixed(2)).join(' ')} | first read ${firstRead.map((t) => t.toFixed(2)).join(' ')}`,
    );
  } finally {
    await engine.close();
    await vc.stop();
    await rm(home, { recursive: true, force: true });
  }
}

/** The console with 1,000 queued jobs reporting progress: frame times while scrolling the queue,
 * and the renderer's heap, in Debian's Chromium against `lifeboat serve`. */
async function consoleQueue(): Promise<void> {
  const browserPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(browserPath)) {
    console.log(`  console with 1,000 jobs: skipped (no Chromium at ${browserPath})`);
    return;
  }
  const home = join(root, 'home-console');
  const cli = join(import.meta.dirname, '..', 'electron', 'cli', 'main.ts');
  spawnSync(process.execPath, [cli, '--home', home, 'lab', 'create', '--vms', '2', '--points', '1', '--disk-mib', '16'], {
    stdio: 'ignore',
  });
  await buildAll();
  const server = spawn(process.execPath, [cli, '--home', home, 'serve', '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const browser = await chromium.launch({ executablePath: browserPath, args: ['--no-sandbox', '--headless', '--disable-gpu'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let text = '';
      server.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const line = text.split('\n').find((candidate) => candidate.startsWith('{'));
        if (line) resolve((JSON.parse(line) as { url: string }).url);
      });
      server.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(url);
    // The sidebar's Jobs carries its counters in its name ("Jobs 1 active").
    await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: /^Jobs/ }).click();
    const started = performance.now();
    const ids = await queueJobs(home, ['lab-web-01', 'lab-db-02'], 1000);
    await page
      .getByRole('search', { name: 'Filter jobs' })
      .getByRole('status')
      .filter({ hasText: /of 10\d\d jobs/ })
      .waitFor({ timeout: 120_000 });
    const shown = (performance.now() - started) / 1000;
    const figures = await measureQueue(page, 5);
    await cancelJobs(home, ids);
    console.log(
      `  console, 1,000 queued jobs     queued and listed in ${shown.toFixed(1)} s; scrolling for 5 s: ${figures.frames} frames, median ${figures.medianFrameMs.toFixed(1)} ms, p95 ${figures.p95FrameMs.toFixed(1)} ms, longest ${figures.longestFrameMs.toFixed(0)} ms; renderer heap ${figures.heapMiB.toFixed(0)} MiB (goal < 300 MB); ${figures.rowsInDom} rows in the DOM`,
    );
  } finally {
    await browser.close();
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
}

/** Copy jobs against `cp` of the same files, and encrypted against plain backup and restore. */
async function copiesAndEncryption(source: string, capacity: number): Promise<void> {
  const times = {
    copy: [] as number[],
    cpCopy: [] as number[],
    plainBackup: [] as number[],
    sealedBackup: [] as number[],
    plainRestore: [] as number[],
    sealedRestore: [] as number[],
    crossRegion: [] as number[],
  };
  let copiedBytes = 0;
  const finished = async (engine: Engine, started: Promise<{ id: string }>): Promise<void> => {
    const job = await engine.jobs.whenEnded((await started).id);
    if (job.state !== 'succeeded') throw new Error(`${job.kind} failed: ${job.error}`);
  };
  for (let run = 0; run < runs; run++) {
    const home = join(root, `home-copies-${run}`);
    const engine = await openServedEngine({ home });
    try {
      times.plainBackup.push(await timed(() => finished(engine, engine.backups.start(source, 'bench'))));
      for (const [name, region, zone] of [
        ['near', 'primary', 'zone-2'],
        ['zoned', 'primary', 'zone-3'],
        ['far', 'secondary', 'zone-1'],
      ] as const) {
        await engine.copies.add({ name, path: join(root, `copies-${run}`, name), region, zone }, 'bench');
      }
      engine.catalog.updateSettings({ copyPolicy: 'grs' });
      times.copy.push(await timed(() => finished(engine, Promise.resolve(engine.copies.startCopies(null, 'bench', 'bench')))));
      const [point] = engine.catalog.listPoints(engine.lookup.resolveVm('bench').id);
      const data = join(
        engine.repository.pointFolder({ vmId: engine.lookup.resolveVm('bench').id, sequence: 1, id: point?.id as string }),
        'data.lbd',
      );
      copiedBytes = 3 * (await stat(data)).size;
      times.cpCopy.push(
        await timed(() => {
          for (const name of ['a', 'b', 'c']) cp(data, join(root, `cp-copy-${run}-${name}`));
        }),
      );
      for (const name of ['a', 'b', 'c']) await rm(join(root, `cp-copy-${run}-${name}`));
      const restoreFrom = async (label: string, fromRegion?: string): Promise<number> => {
        const target = join(root, `restore-${label}-${run}`);
        const time = await timed(() =>
          finished(
            engine,
            engine.restores.start(
              { vm: 'bench', point: 'latest', target: { kind: 'local', path: target }, ...(fromRegion ? { fromRegion } : {}) },
              'bench',
            ),
          ),
        );
        await rm(target, { recursive: true });
        return time;
      };
      times.plainRestore.push(await restoreFrom('plain'));
      times.crossRegion.push(await restoreFrom('secondary', 'secondary'));
    } finally {
      await engine.close();
      await rm(home, { recursive: true, force: true });
      await rm(join(root, `copies-${run}`), { recursive: true, force: true });
    }
    const sealedHome = join(root, `home-sealed-${run}`);
    const sealed = await openServedEngine({ home: sealedHome });
    try {
      times.sealedBackup.push(
        await timed(() => finished(sealed, sealed.backups.start(source, 'bench', { encrypt: true, password: 'bench password' }))),
      );
      const target = join(root, `restore-sealed-${run}`);
      times.sealedRestore.push(
        await timed(() =>
          finished(
            sealed,
            sealed.restores.start(
              { vm: 'bench', point: 'latest', target: { kind: 'local', path: target }, password: 'bench password' },
              'bench',
            ),
          ),
        ),
      );
      await rm(target, { recursive: true });
    } finally {
      await sealed.close();
      await rm(sealedHome, { recursive: true, force: true });
    }
  }
  const m = Object.fromEntries(Object.entries(times).map(([key, values]) => [key, median(values)])) as Record<keyof typeof times, number>;
  console.log(
    `  GRS copy job (3 copies)        ${m.copy.toFixed(2)} s  ${(copiedBytes / m.copy / 1e6).toFixed(0)} MB/s copied, each file hashed and read back  ratio to cp + sync of the same files ${(m.cpCopy / m.copy).toFixed(2)}`,
  );
  console.log(
    `  cross-region restore           ${m.crossRegion.toFixed(2)} s  ratio to restoring from the primary ${(m.plainRestore / m.crossRegion).toFixed(2)} (the secondary is a folder on the same disk here)`,
  );
  console.log(
    `  encrypted backup / restore     ${m.sealedBackup.toFixed(2)} s / ${m.sealedRestore.toFixed(2)} s  ratio to plain ${(m.plainBackup / m.sealedBackup).toFixed(2)} / ${(m.plainRestore / m.sealedRestore).toFixed(2)} (AES-256-GCM per block in the workers; ${(capacity / m.sealedRestore / 1e6).toFixed(0)} MB/s of disk restored)`,
  );
  console.log(
    `  copies raw runs (s): copy ${times.copy.map((t) => t.toFixed(2)).join(' ')} | cp ${times.cpCopy.map((t) => t.toFixed(2)).join(' ')} | sealed restore ${times.sealedRestore.map((t) => t.toFixed(2)).join(' ')}`,
  );
}

async function copiesOnly(): Promise<void> {
  const capacity = gib * 1024 * MIB;
  const { source } = await makeSourceVm(root, capacity);
  console.log(`Lifeboat bench, copies and encryption only: ${gib} GiB VM, ${runs} runs, medians`);
  await copiesAndEncryption(source, capacity);
}

async function instantOnly(): Promise<void> {
  const capacity = gib * 1024 * MIB;
  const { source } = await makeSourceVm(root, capacity);
  console.log(`Lifeboat bench, Instant Recovery only: ${gib} GiB VM, ${runs} runs, medians`);
  await instantRecovery(source, capacity);
}

/** One part measured against `cp` of the bench VM alone (LIFEBOAT_BENCH_ONLY=tape or vsphere). */
async function againstCpOnly(part: typeof tape, name: string): Promise<void> {
  const capacity = gib * 1024 * MIB;
  const { source, flat } = await makeSourceVm(root, capacity);
  const cpTimes: number[] = [];
  // Cold, as every timed step of the part (and of the side-by-side part) is; warm where not root.
  const cold = await dropPageCache();
  for (let run = 0; run < runs; run++) {
    await dropPageCache();
    cpTimes.push(await timed(() => cp(flat, join(root, `cp-${run}`))));
    await rm(join(root, `cp-${run}`));
  }
  const cpTime = median(cpTimes);
  console.log(
    `Lifeboat bench, ${name} only: ${gib} GiB VM, ${runs} runs, medians; cp --sparse=auto + sync ${cpTime.toFixed(2)} s; page cache ${cold ? 'dropped before every timed step' : 'NOT dropped (not root)'}`,
  );
  await part({ root, source, flat, capacity, cpTime, runs, timed, median });
}

async function main(): Promise<void> {
  const capacity = gib * 1024 * MIB;
  const vm = await makeSourceVm(root, capacity);
  const { cpTime } = await sideBySide(root, runs, vm, capacity);
  const { source, flat } = vm;
  await copiesAndEncryption(source, capacity);
  await tape({ root, source, flat, capacity, cpTime, runs, timed, median });
  await tapeIscsi(root, runs, timed, median);
  await vsphereModes({ root, source, flat, capacity, cpTime, runs, timed, median });
  await vsphereBackup(root, runs, timed, median);
  await moverBench(root, runs, timed, median);
  await instantRecovery(source, capacity);
  await instantMass(root);
  await itemLevel(root, runs, timed, median);
  await filesGet(root, runs, timed, median);
  await instantGuest(root, runs, median);
  await thinDisk(root, runs, timed, median);
  await cliStart(root);
  await consoleQueue();
  await catalogBench(root);
  await queueBench(root);
}

/** LIFEBOAT_BENCH_ONLY=<key> measures that part alone (a minute or a few instead of the whole bench). */
const parts: Record<string, () => Promise<void>> = {
  core: async () => {
    const capacity = gib * 1024 * MIB;
    await sideBySide(root, runs, await makeSourceVm(root, capacity), capacity);
  },
  console: consoleQueue,
  'files-get': async () => {
    console.log(`Lifeboat bench, item restore (files get) only: ${runs} runs, medians`);
    await filesGet(root, runs, timed, median);
  },
  'instant-guest': async () => {
    console.log(`Lifeboat bench, a real guest booted from the Instant Recovery export only`);
    await instantGuest(root, runs, median);
  },
  instant: instantOnly,
  'instant-mass': async () => {
    console.log('Lifeboat bench, mass Instant Recovery only');
    await instantMass(root);
  },
  copies: copiesOnly,
  catalog: () => catalogBench(root),
  queue: () => queueBench(root),
  'tape-iscsi': () => tapeIscsi(root, runs, timed, median),
  thin: () => thinDisk(root, runs, timed, median),
  cli: () => cliStart(root),
  items: () => itemLevel(root, runs, timed, median),
  tape: () => againstCpOnly(tape, 'tape'),
  vsphere: () => againstCpOnly(vsphereModes, 'vSphere transports'),
  'vsphere-backup': async () => {
    console.log(`Lifeboat bench, backup from vSphere (vcsim) per transport only: 1 GiB VM, ${runs} runs, medians`);
    await vsphereBackup(root, runs, timed, median);
  },
  movers: async () => {
    console.log(`Lifeboat bench, restore through data movers (vcsim, Direct SAN) only: ${runs} runs, medians`);
    await moverBench(root, runs, timed, median);
  },
  backup: () => backupOnly(root, gib * 1024 * MIB, runs),
  restore: async () =>
    restoreOnly({ root, ...(await makeSourceVm(root, gib * 1024 * MIB)), capacity: gib * 1024 * MIB, runs, cp, timed, median }),
};

try {
  const only = process.env.LIFEBOAT_BENCH_ONLY;
  if (!only) await main();
  else if (Object.hasOwn(parts, only)) await (parts[only] as () => Promise<void>)();
  else throw new Error(`LIFEBOAT_BENCH_ONLY=${only} is no part of the bench; the parts: ${Object.keys(parts).join(', ')}`);
} finally {
  await rm(root, { recursive: true, force: true });
}
