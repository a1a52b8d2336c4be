// A real guest's boot from an Instant Recovery export against its boot from a local copy of the
// same disk, in one run: QEMU (TCG) boots scripts/peers/qemu-guest.ts's disk with the "basic" workload
// (checks its files, parallel writers, sync, fstrim, power off). Times to `booted` (the init script
// runs: kernel and initrd loaded, root mounted) and to `end` (workload done), medians of 2–3 runs.
// Alone: LIFEBOAT_BENCH_ONLY=instant-guest npm run bench. Needs root (2049 and the portmapper's 111).
import { execFileSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { flatVmFolder } from './vm-folder.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { inProcessApi } from '../electron/cli/connect.ts';
import { startVcsim, vcsimUnavailable } from '../scripts/peers/vcsim.ts';
import {
  bootGuest,
  buildGuestDisk,
  describeRun,
  guestUnavailable,
  hasMarker,
  markerMs,
  portsUnavailable,
  type GuestRun,
} from '../scripts/peers/qemu-guest.ts';
import { withNfsPorts } from '../scripts/peers/port-lock.ts';

type Median = (values: number[]) => number;
type Times = { booted: number[]; end: number[] };

const VM = 'bench-guest';
const BOOT_TIMEOUT_MS = 240_000;

/** Seconds to `booted` and to `end` of one boot; a boot that failed stops the bench part. */
function record(times: Times, run: GuestRun, where: string): void {
  const booted = markerMs(run, 'booted');
  const end = markerMs(run, 'end');
  if (booted === null || end === null || !hasMarker(run, 'hashes-ok') || run.errors.length > 0)
    throw new Error(`the guest booted from ${where} did not finish cleanly\n${describeRun(run)}`);
  times.booted.push(booted / 1000);
  times.end.push(end / 1000);
}

export async function instantGuest(root: string, runs: number, median: Median): Promise<void> {
  const missing = guestUnavailable() ?? vcsimUnavailable() ?? portsUnavailable();
  if (missing) {
    console.log(`  real guest boot from the export: skipped (${missing})`);
    return;
  }
  const boots = Math.max(2, Math.min(3, runs));
  const work = join(root, 'instant-guest');
  const home = join(work, 'home');
  await mkdir(join(home, 'instant'), { recursive: true });
  const disk = await buildGuestDisk(join(work, 'build'), { workload: { kind: 'basic' } });
  const local: Times = { booted: [], end: [] };
  const exported: Times = { booted: [], end: [] };
  try {
    // (a) a local copy of the disk, fresh for each boot (the workload writes into it).
    for (let run = 0; run < boots; run++) {
      const copy = join(work, 'local.raw');
      execFileSync('cp', ['--sparse=always', disk.raw, copy]);
      record(local, await bootGuest({ drive: copy, timeoutMs: BOOT_TIMEOUT_MS, append: disk.append }), 'a local copy');
      await rm(copy);
    }

    // (b) the Instant Recovery export of a backup of the same disk, a new session for each boot.
    const source = join(work, VM);
    await mkdir(source);
    await flatVmFolder(source, VM, disk.raw, '47 47 47 47 47 47 47 47-47 47 47 47 47 47 47 47');
    const vc = await startVcsim({ cwd: join(home, 'instant') });
    try {
      await withNfsPorts(async () => {
        const engine = await openServedEngine({ home });
        try {
          const api = inProcessApi(engine);
          const backup = await engine.jobs.whenEnded((await engine.backups.start(source, 'bench')).id);
          if (backup.state !== 'succeeded') throw new Error(`backup failed: ${backup.error}`);
          await api.invoke('hosts.add', { kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true });
          for (let run = 0; run < boots; run++) {
            const { job, session } = await api.invoke('instant.start', {
              vm: VM,
              host: 'vc',
              listen: '127.0.0.1:2049',
              allow: ['127.0.0.1'],
            });
            const started = await engine.jobs.whenEnded(job.id);
            if (started.state !== 'succeeded') throw new Error(`instant recovery failed: ${started.error}`);
            const nfsUrl = (await api.invoke('instant.list', {})).find((listed) => listed.id === session.id)?.nfsUrl ?? '';
            try {
              const run = await bootGuest({ drive: `${nfsUrl}/${VM}/${VM}-flat.vmdk`, timeoutMs: BOOT_TIMEOUT_MS, append: disk.append });
              record(exported, run, 'the export');
            } finally {
              await engine.jobs.whenEnded((await api.invoke('instant.stop', { sessionId: session.id })).job.id);
            }
          }
        } finally {
          await engine.close();
        }
      });
    } finally {
      await vc.stop();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const seconds = (values: number[]): string => `${median(values).toFixed(1)} s`;
  const raw = (values: number[]): string => values.map((value) => value.toFixed(1)).join(' ');
  console.log(`  real guest (QEMU TCG, ${disk.sizeBytes / 2 ** 20} MiB ext4 root, basic workload), medians of ${boots} boots:`);
  console.log(`    local copy of the disk       booted ${seconds(local.booted)}  end ${seconds(local.end)}`);
  console.log(
    `    Instant Recovery export      booted ${seconds(exported.booted)}  end ${seconds(exported.end)}  ratio export/local: booted ${(median(exported.booted) / median(local.booted)).toFixed(2)}, end ${(median(exported.end) / median(local.end)).toFixed(2)}`,
  );
  console.log(
    `    raw runs (s): local booted ${raw(local.booted)} end ${raw(local.end)} | export booted ${raw(exported.booted)} end ${raw(exported.end)}`,
  );
}
