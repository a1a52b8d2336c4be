// Tape faults and bad input: a wrong tape in the drive, an unreadable block, a tape that ends in
// the middle of a block, a VM not on tape, cancel while waiting for a tape, write-protected and
// busy hardware, a pool that runs out of tapes, and the engine killed in the middle of a tape
// restore. Each gives a clear error and leaves nothing half-written in the target.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { fileImageReader, readObject } from '../../electron/drivers/tape/simh-tap.ts';
import { qemuImg, runJob, until } from '../helpers/env.ts';
import { tapeLab, tapesOf } from '../helpers/tape.ts';

const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
const lab = await tapeLab({ vms: 2, diskMib: 12, tapeMib: 64 });
const { engine, dir, vms } = lab;
const [tape] = tapesOf(lab.backup as NonNullable<typeof lab.backup>).map((written) => written.barcode) as [string];
const library = await engine.tape.virtualLibrary();
const image = library.imagePath(tape);
const vm = vms[0] as (typeof vms)[number];

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Restores `vm` from tape into a new folder; returns the ended job and the folder. */
async function restoreOnce(name: string): Promise<{ job: Awaited<ReturnType<typeof runJob>>; target: string }> {
  const target = join(dir, `out-${name}`);
  const { jobs } = await engine.tape.startRestore({ vms: [vm.name], point: 'latest', target: { kind: 'local', path: target } }, 'test');
  return { job: await runJob(engine, jobs[0] as (typeof jobs)[number]), target };
}

/** Runs `damage` on the tape image, and puts the good image back afterwards. */
async function withDamagedTape(damage: () => Promise<void>, check: () => Promise<void>): Promise<void> {
  await copyFile(image, `${image}.good`);
  try {
    await damage();
    await check();
  } finally {
    await copyFile(`${image}.good`, image);
  }
}

test('a wrong tape in the drive is refused with both barcodes, and nothing is restored', async () => {
  const other = 'LB0004L9';
  await library.setFaults({ swapped: { [tape]: other } });
  try {
    const { job, target } = await restoreOnce('wrong-tape');
    assert.equal(job.state, 'failed');
    assert.match(job.error ?? '', new RegExp(`wrong tape: the cartridge loaded as ${tape} holds no Lifeboat label; expected ${tape}`));
    assert.equal(await exists(target), false, 'the target folder it made is gone');
  } finally {
    await library.setFaults({ swapped: {} });
  }
});

test('a medium error names the tape and fails the restore cleanly', async () => {
  await withDamagedTape(
    () => library.damageBlock(tape, 1, 2),
    async () => {
      const { job, target } = await restoreOnce('medium-error');
      assert.equal(job.state, 'failed');
      assert.match(job.error ?? '', new RegExp(`medium error.*tape ${tape}, file 1`));
      assert.equal(await exists(target), false);
    },
  );
});

test('a tape that ends in the middle of a block says so', async () => {
  await withDamagedTape(
    async () => {
      // Cut the image inside the fourth record of the first data file.
      const handle = await open(image, 'r+');
      try {
        const read = fileImageReader(handle);
        let position = 0;
        for (let records = 0, marks = 0; marks < 1 || records < 4;) {
          const object = await readObject(read, position, { skipData: true, label: tape });
          assert.notEqual(object.kind, 'end');
          if (object.kind === 'mark') marks++;
          else if (marks === 1) records++;
          position = (object as { next: number }).next;
        }
        await handle.truncate(position + 1000);
      } finally {
        await handle.close();
      }
    },
    async () => {
      const { job, target } = await restoreOnce('cut');
      assert.equal(job.state, 'failed');
      assert.match(job.error ?? '', /ends in the middle of a block/);
      assert.equal(await exists(target), false);
    },
  );
});

test('a VM that is not on tape is refused before any job starts', async () => {
  await assert.rejects(
    engine.tape.startRestore({ vms: ['no-such-vm'], point: 'latest', target: { kind: 'local', path: join(dir, 'never') } }, 'test'),
    /no backup of "no-such-vm" is on tape/,
  );
  await assert.rejects(
    engine.tape.startRestore({ vms: [vm.name], point: '99', target: { kind: 'local', path: join(dir, 'never') } }, 'test'),
    /has no point "99" on tape/,
  );
  assert.equal(await exists(join(dir, 'never')), false);
});

test('cancel while waiting for a tape: the prompt closes, the job is cancelled, the target is clean', async () => {
  await engine.tape.ejectTape(tape, 'test');
  try {
    const target = join(dir, 'out-cancelled');
    const { jobs } = await engine.tape.startRestore({ vms: [vm.name], point: 'latest', target: { kind: 'local', path: target } }, 'test');
    const job = jobs[0] as (typeof jobs)[number];
    const prompt = await until('the prompt', () => engine.tape.prompts.list(true).find((open) => open.jobIds.includes(job.id)), 30_000);
    engine.jobs.cancel(job.id);
    const ended = await runJob(engine, job);
    assert.equal(ended.state, 'cancelled');
    assert.equal(engine.catalog.tapes.prompt(prompt.id)?.state, 'cancelled');
    assert.equal(await exists(target), false);
  } finally {
    await engine.tape.importTape(tape, undefined, 'test');
  }
});

test('busy drives and write-protected tapes give clear errors', async () => {
  await library.setFaults({ busyDrives: [0, 1] });
  try {
    const { job, target } = await restoreOnce('busy');
    assert.equal(job.state, 'failed');
    assert.match(job.error ?? '', /all 2 drive\(s\) of .* are busy/);
    assert.equal(await exists(target), false);
  } finally {
    await library.setFaults({ busyDrives: [] });
  }
  const free = (await engine.tape.inventory()).cartridges
    .filter((cartridge) => cartridge.pool === null)
    .map((cartridge) => cartridge.barcode);
  for (const barcode of free) await library.setWriteProtected(barcode, true);
  try {
    const job = await runJob(engine, await engine.tape.startBackup([vm.name], 'weekly', 'latest', 'test'));
    assert.equal(job.state, 'failed');
    assert.match(job.error ?? '', /are write-protected/);
  } finally {
    for (const barcode of free) await library.setWriteProtected(barcode, false);
  }
});

test('a pool that runs out of tapes fails the backup and gives its tapes back', async () => {
  const small = await tapeLab({ vms: 1, diskMib: 64, tapeMib: 16, tapes: 1, toTape: false });
  const job = await runJob(small.engine, await small.engine.tape.startBackup([small.vms[0]?.name as string], 'weekly', 'latest', 'test'));
  assert.equal(job.state, 'failed');
  assert.match(job.error ?? '', /ran out of free tapes after 1/);
  assert.equal(small.engine.catalog.tapes.summaries().length, 0, 'an unfinished set is not in the catalog');
  assert.ok(
    (await small.engine.tape.inventory()).cartridges.every((cartridge) => cartridge.pool === null && cartridge.location.kind === 'slot'),
  );
});

test('cancelling one VM during a shared pass ends it at once; the other VM is restored', async () => {
  const slow = await tapeLab({ vms: 2, diskMib: 24, tapeMib: 64, rateScale: 0.01 });
  const [a, b] = slow.vms as [(typeof slow.vms)[number], (typeof slow.vms)[number]];
  const target = join(slow.dir, 'out');
  const { jobs } = await slow.engine.tape.startRestore(
    { vms: [a.name, b.name], point: 'latest', target: { kind: 'local', path: target } },
    'test',
  );
  const [jobA, jobB] = jobs as [(typeof jobs)[number], (typeof jobs)[number]];
  await until(
    'the pass under way',
    () =>
      slow.engine.catalog.getJob(jobA.id)?.currentStep === 'transfer-disks' &&
      slow.engine.catalog.getJob(jobB.id)?.currentStep === 'transfer-disks'
        ? true
        : undefined,
    30_000,
  );
  slow.engine.jobs.cancel(jobA.id);
  const cancelled = await runJob(slow.engine, jobA);
  assert.equal(cancelled.state, 'cancelled');
  assert.notEqual(slow.engine.catalog.getJob(jobB.id)?.state, 'succeeded', 'the cancelled job did not wait for the pass to end');
  const other = await runJob(slow.engine, jobB);
  assert.equal(other.state, 'succeeded', other.error ?? '');
  assert.equal(await exists(join(target, a.name)), false, 'nothing of the cancelled VM is left');
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', b.raw, join(target, b.name, `${b.name}.vmdk`)), /identical/);
});

test('the engine killed during a tape restore: interrupted, the target cleaned, the drive usable again', async () => {
  const slow = await tapeLab({ vms: 1, diskMib: 24, tapeMib: 64, rateScale: 0.02 });
  await slow.engine.close();
  const target = join(slow.dir, 'out');
  const child = spawn(
    process.execPath,
    [cli, '--home', slow.home, 'restore', 'tape', slow.vms[0]?.name as string, '--target', `local:${target}`],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const catalog = new Database(join(slow.home, 'catalog.sqlite'), { readonly: true, fileMustExist: true });
  try {
    await until(
      'the transfer under way',
      () =>
        catalog
          .prepare(
            "SELECT 1 AS yes FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.kind = 'tape-restore' AND e.message = 'step transfer-disks started'",
          )
          .get() as { yes: number } | undefined,
      60_000,
      50,
    );
  } finally {
    catalog.close();
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  child.kill('SIGKILL');
  await exited;
  const engine2 = await openServedEngine({ home: slow.home, workerThreads: 2 });
  try {
    await engine2.janitor;
    const [interrupted] = engine2.catalog.listJobs().filter((job) => job.kind === 'tape-restore');
    assert.equal(interrupted?.state, 'interrupted');
    assert.equal(await exists(target), false, 'nothing half-written is left');
    const { jobs } = await engine2.tape.startRestore(
      { vms: [slow.vms[0]?.name as string], point: 'latest', target: { kind: 'local', path: target } },
      'test',
    );
    const again = await runJob(engine2, jobs[0] as (typeof jobs)[number]);
    assert.equal(again.state, 'succeeded', again.error ?? '');
    assert.match(
      qemuImg('compare', '-f', 'raw', '-F', 'vmdk', slow.vms[0]?.raw as string, join(target, `${slow.vms[0]?.name}.vmdk`)),
      /identical/,
    );
    assert.deepEqual(
      (await readdir(target)).filter((name) => name.startsWith('.')),
      [],
    );
  } finally {
    await engine2.close();
  }
});
