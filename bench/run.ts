// `npm run bench`: backup and restore throughput of a VM of LIFEBOAT_BENCH_GIB GiB (default 2),
// each against `cp` of the same bytes on the same disk, measured in this one run. Medians of
// LIFEBOAT_BENCH_RUNS runs (default 3); the machine is shared and noisy, so read the ratios.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../electron/engine/engine.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { vmxText } from '../electron/lab/create-lab.ts';
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
import { itemLevel } from './items.ts';

const MIB = 1024 * 1024;
const gib = Number(process.env.LIFEBOAT_BENCH_GIB ?? '2');
const runs = Number(process.env.LIFEBOAT_BENCH_RUNS ?? '3');
const root = await mkdtemp(join(process.env.LIFEBOAT_BENCH_DIR ?? tmpdir(), 'lifeboat-bench-'));
// The benchmark's throwaway homes keep their generated secrets keys with them, not in the user's config.
process.env.LIFEBOAT_KEYS_DIR = join(root, 'keys');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function timed(fn: () => Promise<void> | void): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** A guest-like disk: 15% never written, 35% incompressible, 50% log-like text; no two blocks equal. */
async function makeDisk(path: string, bytes: number): Promise<number> {
  const handle = await open(path, 'w');
  await handle.truncate(bytes);
  const text = Buffer.from(
    Array.from(
      { length: 20000 },
      (_, i) =>
        `2026-11-24T03:${String(i % 60).padStart(2, '0')}:00Z host-${i % 17} svc[${i}]: handled request ${i * 7919} in ${i % 113} ms\n`,
    ).join(''),
  ).subarray(0, MIB);
  let written = 0;
  for (let block = 0; block < bytes / MIB; block++) {
    const kind = (block * 13) % 20;
    if (kind < 3) continue;
    const data = kind < 10 ? randomBytes(MIB) : Buffer.from(text);
    data.writeUInt32LE(block, 0);
    data.writeUInt32LE(block, MIB / 2);
    await handle.write(data, 0, MIB, block * MIB);
    written += MIB;
  }
  await handle.sync();
  await handle.close();
  return written;
}

/** Seconds per step, from the job's own event log ("step X started" ... next step / end). */
function stepDurations(events: { at: string; message: string }[]): string {
  const starts = events
    .filter((event) => event.message.startsWith('step '))
    .map((event) => ({ name: event.message.split(' ')[1], at: Date.parse(event.at) }));
  const end = Date.parse(events.at(-1)?.at ?? '');
  return starts.map((step, i) => `${step.name} ${(((starts[i + 1]?.at ?? end) - step.at) / 1000).toFixed(2)}`).join(', ');
}

function cp(from: string, to: string): void {
  execFileSync('cp', ['--sparse=auto', from, to]);
  execFileSync('sync', [to]);
}

/** Restore of the same VM to govmomi's vCenter simulator in each transport mode. */
async function vsphereModes(source: string, capacity: number, cpTime: number): Promise<void> {
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
      for (let run = 0; run < runs; run++) {
        const name = `bench-${mode}-${run}`;
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
          }),
        );
        await rm(join(lun.LocalDS_0, name), { recursive: true, force: true });
      }
      const time = median(times);
      console.log(
        `  vSphere restore, ${mode.padEnd(6)} (${diskFormat})   ${time.toFixed(2)} s  ${(capacity / time / 1e6).toFixed(0)} MB/s of disk  ratio to cp ${(cpTime / time).toFixed(2)}`,
      );
    }
  } finally {
    await engine.close();
    await vc.stop();
  }
}

/** Tape: backup to and restore from the virtual library, whose drive streams at LTO-9's 400 MB/s
 * (mechanical waits scaled down). Throughput is read against that modelled rate; drive-starved
 * events say whether the engine kept the tape streaming. */
async function tape(source: string, capacity: number, cpTime: number): Promise<void> {
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
    const reports: { bytesRead: number; starvedEvents: number; loads: number; passes: number }[] = [];
    for (let run = 0; run < runs; run++) {
      const target = join(root, `tape-restore-${run}`);
      times.push(
        await timed(async () => {
          const { jobs } = await engine.tape.startRestore(
            { vms: ['bench'], point: 'latest', target: { kind: 'local', path: target } },
            'bench',
          );
          const job = await engine.jobs.whenEnded((jobs[0] as (typeof jobs)[number]).id);
          if (job.state !== 'succeeded') throw new Error(`tape restore failed: ${job.error}`);
          reports.push(...(job.result?.tapes as typeof reports));
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
    await page.getByRole('button', { name: 'Jobs', exact: true }).click();
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

/** The bench VM's folder: its .vmx and a monolithicFlat disk of `capacity` bytes. */
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

async function makeSourceVm(capacity: number): Promise<{ source: string; flat: string; dataBytes: number }> {
  const source = join(root, 'source');
  await mkdir(source);
  const flat = join(source, 'bench-flat.vmdk');
  const dataBytes = await makeDisk(flat, capacity);
  await writeFile(
    join(source, 'bench.vmdk'),
    `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW ${capacity / 512} FLAT "bench-flat.vmdk" 0\n`,
  );
  await writeFile(join(source, 'bench.vmx'), vmxText('bench', ['bench.vmdk'], '42 42 42 42 42 42 42 42-42 42 42 42 42 42 42 42'));
  return { source, flat, dataBytes };
}

async function copiesOnly(): Promise<void> {
  const capacity = gib * 1024 * MIB;
  const { source } = await makeSourceVm(capacity);
  console.log(`Lifeboat bench, copies and encryption only: ${gib} GiB VM, ${runs} runs, medians`);
  await copiesAndEncryption(source, capacity);
}

async function instantOnly(): Promise<void> {
  const capacity = gib * 1024 * MIB;
  const { source } = await makeSourceVm(capacity);
  console.log(`Lifeboat bench, Instant Recovery only: ${gib} GiB VM, ${runs} runs, medians`);
  await instantRecovery(source, capacity);
}

async function main(): Promise<void> {
  const capacity = gib * 1024 * MIB;
  const { source, flat, dataBytes } = await makeSourceVm(capacity);

  const cpTimes: number[] = [];
  const backupTimes: number[] = [];
  const incrementalTimes: number[] = [];
  const restoreTimes: number[] = [];
  let stored = 0;
  let restoreSteps = '';
  for (let run = 0; run < runs; run++) {
    const copy = join(root, `cp-${run}`);
    cpTimes.push(await timed(() => cp(flat, copy)));
    await rm(copy);

    const home = join(root, `home-${run}`);
    const engine = await openServedEngine({ home });
    try {
      backupTimes.push(
        await timed(async () => {
          const job = await engine.jobs.whenEnded((await engine.backups.start(source, 'bench')).id);
          if (job.state !== 'succeeded') throw new Error(`backup failed: ${job.error}`);
        }),
      );
      const handle = await open(flat, 'r+');
      await handle.write(randomBytes(64 * MIB), 0, 64 * MIB, 100 * MIB + run * MIB);
      await handle.close();
      incrementalTimes.push(
        await timed(async () => {
          const job = await engine.jobs.whenEnded((await engine.backups.start(source, 'bench')).id);
          if (job.state !== 'succeeded') throw new Error(`incremental failed: ${job.error}`);
        }),
      );
      const points = engine.catalog.listPoints(engine.lookup.resolveVm('bench').id);
      stored = points.reduce((sum, point) => sum + point.storedBytes, 0);
      const target = join(root, `restore-${run}`);
      restoreTimes.push(
        await timed(async () => {
          const job = await engine.jobs.whenEnded(
            (await engine.restores.start({ vm: 'bench', point: 'latest', target: { kind: 'local', path: target } }, 'bench')).id,
          );
          if (job.state !== 'succeeded') throw new Error(`restore failed: ${job.error}`);
          restoreSteps = stepDurations(engine.catalog.jobEvents(job.id));
        }),
      );
      const restored = await stat(join(target, 'bench-flat.vmdk'));
      if (restored.size !== capacity) throw new Error('restored disk has the wrong size');
      await rm(target, { recursive: true });
    } finally {
      await engine.close();
      await rm(home, { recursive: true, force: true });
    }
  }
  const mbps = (bytes: number, seconds: number): string => `${(bytes / seconds / 1e6).toFixed(0)} MB/s`;
  const cpTime = median(cpTimes);
  const restoreTime = median(restoreTimes);
  const backupTime = median(backupTimes);
  console.log(
    `Lifeboat bench: ${gib} GiB VM (${(dataBytes / 2 ** 30).toFixed(2)} GiB of data, the rest never written), ${runs} runs, medians`,
  );
  console.log(`  cp --sparse=auto + sync        ${cpTime.toFixed(2)} s  ${mbps(capacity, cpTime)} of disk`);
  console.log(
    `  full backup                    ${backupTime.toFixed(2)} s  ${mbps(capacity, backupTime)} of disk  ratio to cp ${(cpTime / backupTime).toFixed(2)}`,
  );
  console.log(
    `  incremental (64 MiB changed)   ${median(incrementalTimes).toFixed(2)} s  (reads the whole disk; no CBT on a local folder)`,
  );
  console.log(
    `  entire VM restore (latest)     ${restoreTime.toFixed(2)} s  ${mbps(capacity, restoreTime)} of disk  ratio to cp ${(cpTime / restoreTime).toFixed(2)}  (goal >= 0.80)`,
  );
  console.log(`  restore steps (last run, s): ${restoreSteps}`);
  console.log(`  repository size after 2 points ${(stored / 2 ** 30).toFixed(2)} GiB for ${(dataBytes / 2 ** 30).toFixed(2)} GiB of data`);
  await copiesAndEncryption(source, capacity);
  await tape(source, capacity, cpTime);
  await tapeIscsi(root, runs, timed, median);
  await vsphereModes(source, capacity, cpTime);
  await instantRecovery(source, capacity);
  await instantMass(root);
  await itemLevel(root, runs, timed, median);
  await filesGet(root, runs, timed, median);
  await instantGuest(root, runs, median);
  await consoleQueue();
  console.log(
    `  raw runs (s): cp ${cpTimes.map((t) => t.toFixed(2)).join(' ')} | backup ${backupTimes.map((t) => t.toFixed(2)).join(' ')} | restore ${restoreTimes.map((t) => t.toFixed(2)).join(' ')}`,
  );
}

try {
  // LIFEBOAT_BENCH_ONLY=console (or instant, instant-guest, instant-mass, copies, files-get, tape-iscsi, items) measures that part alone (a minute instead of several).
  if (process.env.LIFEBOAT_BENCH_ONLY === 'console') await consoleQueue();
  else if (process.env.LIFEBOAT_BENCH_ONLY === 'files-get') {
    console.log(`Lifeboat bench, item restore (files get) only: ${runs} runs, medians`);
    await filesGet(root, runs, timed, median);
  } else if (process.env.LIFEBOAT_BENCH_ONLY === 'instant-guest') {
    console.log(`Lifeboat bench, a real guest booted from the Instant Recovery export only`);
    await instantGuest(root, runs, median);
  } else if (process.env.LIFEBOAT_BENCH_ONLY === 'instant') await instantOnly();
  else if (process.env.LIFEBOAT_BENCH_ONLY === 'instant-mass') {
    console.log('Lifeboat bench, mass Instant Recovery only');
    await instantMass(root);
  } else if (process.env.LIFEBOAT_BENCH_ONLY === 'copies') await copiesOnly();
  else if (process.env.LIFEBOAT_BENCH_ONLY === 'tape-iscsi') await tapeIscsi(root, runs, timed, median);
  else if (process.env.LIFEBOAT_BENCH_ONLY === 'items') await itemLevel(root, runs, timed, median);
  else await main();
} finally {
  await rm(root, { recursive: true, force: true });
}
