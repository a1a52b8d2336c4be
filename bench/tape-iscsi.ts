// Tape over loopback iSCSI: a VM backed up to and restored from tgt's library (SSC drives, SMC
// changer) through Lifeboat's own initiator, against the same bytes through the virtual library
// at a rate that does not throttle, in one run; and 4 KiB variable blocks read per second (one
// READ(6) each) through the SCSI tape drive. Medians of `runs`.
// Alone: LIFEBOAT_BENCH_ONLY=tape-iscsi npm run bench (LIFEBOAT_BENCH_TAPE_MIB sets the VM's size).
import { randomBytes } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openLibraryUrl } from '../electron/drivers/scsi/open-library.ts';
import type { Engine } from '../electron/engine/engine.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { startTgtLibrary, tgtUnavailable } from '../scripts/peers/tgt.ts';
import { flatVmFolder } from './vm-folder.ts';

type Timer = (fn: () => Promise<void> | void) => Promise<number>;

const MIB = 1024 * 1024;
const VM_MIB = Number(process.env.LIFEBOAT_BENCH_TAPE_MIB ?? '256');
const SMALL_BLOCKS = 4000;

/** Half incompressible, half log-like text, every MiB different. */
async function writeDisk(path: string, mib: number): Promise<void> {
  const handle = await open(path, 'w');
  const text = Buffer.from('2026-12-02T20:00:00Z host-7 svc[42]: handled request in 3 ms\n'.repeat(20000)).subarray(0, MIB);
  try {
    for (let block = 0; block < mib; block++) {
      const data = block % 2 ? randomBytes(MIB) : Buffer.from(text);
      data.writeUInt32LE(block, 0);
      await handle.write(data, 0, MIB, block * MIB);
    }
  } finally {
    await handle.close();
  }
}

/** Backs the VM up to tape `runs` times (a new media set each) and restores it `runs` times. */
async function backupAndRestore(
  engine: Engine,
  root: string,
  label: string,
  runs: number,
  timed: Timer,
): Promise<{ backup: number[]; restore: number[]; bytes: number }> {
  const backup: number[] = [];
  const restore: number[] = [];
  let bytes = 0;
  for (let run = 0; run < runs; run++) {
    backup.push(
      await timed(async () => {
        const job = await engine.jobs.whenEnded((await engine.tape.startBackup(['tape-bench'], `${label}${run}`, 'latest', 'bench')).id);
        if (job.state !== 'succeeded') throw new Error(`${label} tape backup failed: ${job.error}`);
        bytes = (job.result?.tapes as { bytes: number }[]).reduce((sum, tape) => sum + tape.bytes, 0);
      }),
    );
  }
  for (let run = 0; run < runs; run++) {
    const target = join(root, `${label}-restore-${run}`);
    restore.push(
      await timed(async () => {
        const { jobs } = await engine.tape.startRestore(
          { vms: ['tape-bench'], point: 'latest', target: { kind: 'local', path: target } },
          'bench',
        );
        const job = await engine.jobs.whenEnded((jobs[0] as (typeof jobs)[number]).id);
        if (job.state !== 'succeeded') throw new Error(`${label} tape restore failed: ${job.error}`);
      }),
    );
    await rm(target, { recursive: true, force: true });
  }
  return { backup, restore, bytes };
}

/** 4 KiB blocks written to a tape, then read back one READ(6) each, through the SCSI drive. */
async function smallReads(url: string, barcode: string, timed: Timer): Promise<number> {
  const library = await openLibraryUrl(url, { name: 'bench-small', blockSize: 4096 });
  try {
    const drive = await library.load(barcode, 'bench small reads');
    try {
      const block = randomBytes(4096);
      for (let i = 0; i < SMALL_BLOCKS; i++) await drive.write(block);
      await drive.writeFilemarks(1);
      await drive.rewind();
      const seconds = await timed(async () => {
        for (let i = 0; i < SMALL_BLOCKS; i++) {
          const read = await drive.read();
          if (read.kind !== 'block') throw new Error(`block ${i} of ${SMALL_BLOCKS} read as ${read.kind}`);
        }
      });
      return SMALL_BLOCKS / seconds;
    } finally {
      await library.unload(drive);
    }
  } finally {
    await library.close();
  }
}

export async function tapeIscsi(root: string, runs: number, timed: Timer, median: (values: number[]) => number): Promise<void> {
  const why = await tgtUnavailable();
  if (why) {
    console.log(`  tape over iSCSI: skipped (${why})`);
    return;
  }
  const work = join(root, 'tape-iscsi');
  const source = join(work, 'tape-bench');
  await mkdir(source, { recursive: true });
  const raw = join(work, 'tape-bench.raw');
  await writeDisk(raw, VM_MIB);
  await flatVmFolder(source, 'tape-bench', raw, '42 42 42 42 42 42 42 42-42 42 42 42 42 42 42 42');
  await rm(raw);
  // Room for every media set of the runs, one tape each, and a spare for the small reads.
  const tapeMib = Math.ceil(VM_MIB * 1.25) + 64;
  const barcodes = Array.from({ length: runs + 1 }, (_, i) => `BENCH${String(i + 1).padStart(2, '0')}`);
  const tgt = await startTgtLibrary(join(work, 'tgt'), {
    drives: 2,
    slots: Math.max(8, barcodes.length),
    mailslots: 1,
    tapes: barcodes.map((barcode) => ({ barcode, sizeMiB: tapeMib })),
  });
  const engine = await openServedEngine({ home: join(work, 'home') });
  try {
    const backup = await engine.jobs.whenEnded((await engine.backups.start(source, 'bench')).id);
    if (backup.state !== 'succeeded') throw new Error(`backup failed: ${backup.error}`);
    await engine.tape.addLibrary({ url: tgt.url, name: 'tgt' }, 'bench');
    const real = await backupAndRestore(engine, work, 'tgt', runs, timed);
    const [spare] = (await engine.tape.inventory()).cartridges.filter((tape) => tape.pool === null).map((tape) => tape.barcode);
    // The same bytes through the virtual library, its drive 100 × LTO-9 so it never throttles.
    await engine.tape.createLibrary({
      slots: 8,
      drives: 2,
      mailslots: 1,
      tapes: runs,
      capacityBytes: tapeMib * MIB,
      timeScale: 0.001,
      rateScale: 100,
    });
    const virtual = await backupAndRestore(engine, work, 'virtual', runs, timed);
    // The engine let go of the target when it turned to the virtual library: the small reads log in alone.
    const perSecond = spare ? await smallReads(tgt.url, spare, timed) : null;
    const mbps = (seconds: number[], bytes: number): number => bytes / median(seconds) / 1e6;
    const line = (what: string, realSeconds: number[], virtualSeconds: number[]): string =>
      `  ${what} ${median(realSeconds).toFixed(2)} s  ${mbps(realSeconds, real.bytes).toFixed(0)} MB/s  ratio to the virtual library ${(mbps(realSeconds, real.bytes) / mbps(virtualSeconds, virtual.bytes)).toFixed(2)} (${mbps(virtualSeconds, virtual.bytes).toFixed(0)} MB/s)`;
    console.log(
      `Lifeboat bench, tape over loopback iSCSI (tgt): ${VM_MIB} MiB VM, ${(real.bytes / MIB).toFixed(0)} MiB on tape, ${runs} runs, medians`,
    );
    console.log(line('tape backup over iSCSI   ', real.backup, virtual.backup));
    console.log(line('tape restore over iSCSI  ', real.restore, virtual.restore));
    console.log(
      `  small reads: ${perSecond === null ? 'no spare tape' : `${perSecond.toFixed(0)} READ(6) of 4 KiB per second`} (${SMALL_BLOCKS} variable blocks through the SCSI drive)`,
    );
    console.log(
      `  raw runs (s): tgt backup ${real.backup.map((t) => t.toFixed(2)).join(' ')} restore ${real.restore.map((t) => t.toFixed(2)).join(' ')} | virtual backup ${virtual.backup.map((t) => t.toFixed(2)).join(' ')} restore ${virtual.restore.map((t) => t.toFixed(2)).join(' ')}`,
    );
  } finally {
    await engine.close();
    await tgt.stop();
    await rm(work, { recursive: true, force: true });
  }
}
