// `files get` of a folder of 20,000 small files through the engine (as the CLI asks for it)
// against `cp -a` of the same folder from a loop mount of the same ext4 image, in one run; and
// listing that folder inside the point. Hashed (dir_index) and linear (^dir_index) folders both.
// Alone: LIFEBOAT_BENCH_ONLY=files-get npm run bench (LIFEBOAT_BENCH_FILES sets the count).
import { execFileSync } from 'node:child_process';
import { mkdir, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { flatVmFolder } from './vm-folder.ts';
import { PointBrowser } from '../electron/items/point-browser.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';

type Timer = (fn: () => Promise<void> | void) => Promise<number>;

const FILES = Number(process.env.LIFEBOAT_BENCH_FILES ?? '20000');

/** A guest's folder of small files of a few sizes (config files, notes, small logs). */
async function seedFolder(folder: string): Promise<void> {
  await mkdir(join(folder, 'big'), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    const line = `file ${i}: a small guest file of the item-restore benchmark\n`;
    await writeFile(join(folder, 'big', `file-${String(i).padStart(5, '0')}.conf`), line.repeat(1 + (i % 40)), { mode: 0o644 });
  }
}

/** A VM folder whose one disk is an ext4 image of the folder (no partition table: /disk0/part0). */
async function makeVm(work: string, name: string, seeded: string, linear: boolean): Promise<{ source: string; image: string }> {
  const image = join(work, `${name}.img`);
  await writeFile(image, '');
  await truncate(image, (64 + Math.ceil((FILES * 4096) / 2 ** 20) * 2) * 2 ** 20);
  execFileSync('mke2fs', [
    '-q',
    '-F',
    '-t',
    'ext4',
    '-N',
    String(FILES + 4096),
    ...(linear ? ['-O', '^dir_index'] : []),
    '-d',
    seeded,
    image,
  ]);
  const source = join(work, `${name}-vm`);
  await mkdir(source);
  await flatVmFolder(source, name, image, '44 44 44 44 44 44 44 44-44 44 44 44 44 44 44 44');
  return { source, image };
}

/** `cp -a` of the folder from a loop mount of the image (read-only), or null without root. */
async function cpFromMount(image: string, target: string, timed: Timer): Promise<number | null> {
  if (process.getuid?.() !== 0) return null;
  const mount = `${image}.mnt`;
  await mkdir(mount, { recursive: true });
  execFileSync('mount', ['-o', 'loop,ro', image, mount]);
  try {
    return await timed(() => void execFileSync('cp', ['-a', join(mount, 'big'), target]));
  } finally {
    execFileSync('umount', [mount]);
  }
}

export async function filesGet(root: string, runs: number, timed: Timer, median: (values: number[]) => number): Promise<void> {
  const work = join(root, 'files-get');
  const seeded = join(work, 'seed');
  await seedFolder(seeded);
  for (const linear of [false, true]) {
    const name = linear ? 'linear' : 'hashed';
    const { source, image } = await makeVm(work, name, seeded, linear);
    const engine = await openServedEngine({ home: join(work, `home-${name}`) });
    try {
      const backup = await engine.jobs.whenEnded((await engine.backups.start(source, 'bench')).id);
      if (backup.state !== 'succeeded') throw new Error(`backup failed: ${backup.error}`);
      await engine.jobs.idle();
      const vmId = engine.lookup.resolveVm(name).id;
      const pointId = engine.lookup.resolvePointId(vmId, 'latest');
      const gets: number[] = [];
      const cps: number[] = [];
      let steps = '';
      for (let run = 0; run < runs; run++) {
        const target = join(work, `out-${name}-${run}`);
        gets.push(
          await timed(async () => {
            const job = await engine.jobs.whenEnded(
              (
                await engine.files.startItemRestore(
                  { vm: name, point: 'latest', paths: ['/disk0/part0/big'], target: { kind: 'local', path: target }, onClash: 'keep-both' },
                  'bench',
                )
              ).id,
            );
            if (job.state !== 'succeeded') throw new Error(`files get failed: ${job.error}`);
            if (job.result?.copied !== FILES + 1) throw new Error(`files get restored ${String(job.result?.copied)} items`);
            steps = engine.catalog
              .jobEvents(job.id)
              .filter((event) => event.message.startsWith('step '))
              .map((event) => `${event.at.slice(11, 23)} ${event.message}`)
              .join('; ');
          }),
        );
        await rm(target, { recursive: true });
        const copied = await cpFromMount(image, join(work, `cp-${name}-${run}`), timed);
        if (copied !== null) cps.push(copied);
        await rm(join(work, `cp-${name}-${run}`), { recursive: true, force: true });
      }
      // Listing the folder inside the point: a fresh browser each time (inodes read), then again once open.
      const cold: number[] = [];
      const warm: number[] = [];
      // The engine's own processor time for the first listing (the machine may be shared and busy).
      const coldCpu: number[] = [];
      for (let run = 0; run < Math.max(runs, 5); run++) {
        const browser = await PointBrowser.open(engine.repository, vmId, pointId);
        try {
          const cpu = process.cpuUsage();
          cold.push(await timed(async () => void (await browser.list('/disk0/part0/big'))));
          const used = process.cpuUsage(cpu);
          coldCpu.push((used.user + used.system) / 1e6);
          warm.push(await timed(async () => void (await browser.list('/disk0/part0/big'))));
        } finally {
          await browser.close();
        }
      }
      const get = median(gets);
      const cp = cps.length > 0 ? median(cps) : null;
      console.log(
        `  files get of ${FILES} small files (${name} folder)  ${get.toFixed(2)} s  ${Math.round(FILES / get)} files/s` +
          (cp === null
            ? '  (cp -a: skipped, needs root for a loop mount)'
            : `  cp -a ${cp.toFixed(2)} s  ratio to cp ${(cp / get).toFixed(2)} (goal >= 0.30)`),
      );
      console.log(
        `  list the ${FILES}-entry folder (${name})  ${(median(cold) * 1000).toFixed(0)} ms first (${(median(coldCpu) * 1000).toFixed(0)} ms of processor time), ${(median(warm) * 1000).toFixed(0)} ms again (goal < 100 ms)`,
      );
      console.log(
        `    raw (s): files get ${gets.map((t) => t.toFixed(2)).join(' ')} | cp -a ${cps.map((t) => t.toFixed(2)).join(' ')}; last job: ${steps}`,
      );
    } finally {
      await engine.close();
    }
  }
  await rm(work, { recursive: true, force: true });
}
