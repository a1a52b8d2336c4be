// Tape, end to end: three VMs backed up to a media set that spans two tapes; one tape is taken
// offline; restoring all three raises one prompt, loads and reads each tape once, and gives disks
// identical to the originals. A second engine with an empty catalog scans the tapes and restores
// the same. Staged restores clean up their staging copy.
import assert from 'node:assert/strict';
import { readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { openEngine, qemuImg, runJob, until } from '../helpers/env.ts';
import { MIB, tapeLab, tapesOf } from '../helpers/tape.ts';
import { wantedByTape } from '../../electron/tape/tape-pass.ts';

const lab = await tapeLab({ vms: 3, diskMib: 24, tapeMib: 16 });
const { engine, dir, vms } = lab;
const written = tapesOf(lab.backup as NonNullable<typeof lab.backup>);

function identical(raw: string, vmdk: string): void {
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raw, vmdk), /identical/);
}

test('a backup to tape spans two tapes and keeps under 50 MB of catalog per TiB', () => {
  assert.equal(written.length, 2, 'the media set spans two tapes');
  const copies = engine.catalog.tapes.summaries();
  assert.equal(copies.length, 3);
  // Per block: a map entry per disk block and a location per stored block; per point: its manifest.
  const perBlock = vms.reduce(
    (sum, vm) => sum + engine.catalog.tapes.copiesOf(vm.name).reduce((bytes, copy) => bytes + copy.maps.length + copy.locations.length, 0),
    0,
  );
  const perTiB = (perBlock / (vms.length * 24 * MIB)) * 2 ** 40;
  assert.ok(perTiB <= 50e6, `block maps and locations take ${Math.round(perTiB / 1e6)} MB per TiB of disks`);
  for (const copy of copies) assert.ok(copy.metadataBytes < 8192, `${copy.vmName}: ${copy.metadataBytes} bytes of catalog`);
  assert.deepEqual(new Set(copies.flatMap((copy) => copy.barcodes)), new Set(written.map((tape) => tape.barcode)));
});

test('points on tape are the vault tier; with the repository unreadable, a restore says the point is on tape', async () => {
  const vm = engine.lookup.resolveVm(vms[0]?.name as string);
  const [point] = engine.catalog.listPoints(vm.id);
  assert.deepEqual(
    point?.copies.map((copy) => [copy.kind, copy.tier]),
    [
      ['repository', 'snapshot'],
      ['tape', 'vault'],
    ],
  );
  const folder = engine.repository.vmFolder(vm.id);
  await rename(folder, `${folder}.lost`);
  try {
    await assert.rejects(
      engine.restores.start({ vm: vm.name, point: 'latest', target: { kind: 'local', path: join(dir, 'nowhere') } }, 'test'),
      { message: /it is also on tape \(LB\d{4}L9.*\): `lifeboat restore tape` reads it from there/ },
    );
  } finally {
    await rename(`${folder}.lost`, folder);
  }
});

test('three VMs from two tapes, one offline: one prompt, one load and one pass per tape, identical disks', async () => {
  const offline = written[1]?.barcode as string;
  await engine.tape.ejectTape(offline, 'test');
  const out = join(dir, 'restored');
  const { jobs, pullList } = await engine.tape.startRestore(
    { vms: vms.map((vm) => vm.name), point: 'latest', target: { kind: 'local', path: out } },
    'test',
  );
  assert.equal(jobs.length, 3, 'one job per VM');
  assert.deepEqual(
    pullList.map((entry) => [entry.order, entry.barcode, entry.online]),
    [
      [1, written[0]?.barcode, true],
      [2, offline, false],
    ],
  );
  assert.ok(pullList.every((entry) => entry.bytes > 0 && entry.estimatedSeconds > 0));

  const prompt = await until('the insert-tape prompt', () => engine.tape.prompts.list(true)[0], 60_000);
  assert.equal(prompt.barcode, offline);
  assert.match(prompt.message, new RegExp(`Insert tape ${offline}`));
  await until(
    'a job waiting for the tape',
    () =>
      jobs
        .map((job) => engine.catalog.getJob(job.id))
        .find((job) => job?.state === 'waiting-for-operator' && job.waitingFor === `tape ${offline}`),
    10_000,
  );
  await assert.rejects(engine.tape.prompts.answer(prompt.id, 'alice', 'LB0004L9'), /not the one needed: insert/);
  await assert.rejects(engine.tape.prompts.answer(prompt.id, 'alice'), /still not in the library/);
  await engine.tape.importTape(offline, undefined, 'test');

  const ended = await Promise.all(jobs.map((job) => runJob(engine, job)));
  for (const job of ended) assert.equal(job.state, 'succeeded', job.error ?? '');
  const prompts = engine.tape.prompts.list(false);
  assert.equal(prompts.length, 1, 'one prompt for the whole request');
  assert.equal(prompts[0]?.state, 'detected', 'closed when the tape arrived');
  const reports = new Map(ended.flatMap(tapesOf).map((tape) => [tape.barcode, tape]));
  assert.equal(reports.size, 2);
  for (const tape of reports.values()) assert.deepEqual([tape.loads, tape.passes], [1, 1], `tape ${tape.barcode}`);
  for (const vm of vms) identical(vm.raw, join(out, vm.name, `${vm.name}.vmdk`));
});

test('two requests queued together are served by one pass over the tapes', async () => {
  const [a, b] = vms as [(typeof vms)[number], (typeof vms)[number]];
  const first = await engine.tape.startRestore(
    { vms: [a.name], point: 'latest', target: { kind: 'local', path: join(dir, 'req-a') } },
    'alice',
  );
  const second = await engine.tape.startRestore(
    { vms: [b.name], point: 'latest', target: { kind: 'local', path: join(dir, 'req-b') } },
    'bob',
  );
  const ended = await Promise.all([...first.jobs, ...second.jobs].map((job) => runJob(engine, job)));
  for (const job of ended) assert.equal(job.state, 'succeeded', job.error ?? '');
  const ids = ended.map((job) => job.id);
  for (const job of ended) {
    for (const tape of tapesOf(job)) {
      assert.equal(tape.loads, 1);
      if ((tape.jobIds ?? []).length > 1)
        assert.deepEqual([...(tape.jobIds ?? [])].sort(), [...ids].sort(), `tape ${tape.barcode} served both requests`);
    }
  }
  const shared = ended.flatMap(tapesOf).filter((tape) => tape.jobIds?.length === 2);
  assert.ok(shared.length >= 2, 'at least one tape was read once for both requests');
  identical(a.raw, join(dir, 'req-a', `${a.name}.vmdk`));
  identical(b.raw, join(dir, 'req-b', `${b.name}.vmdk`));
});

test('both tapes offline: both asked for at once in pull-list order; a VM read from the first goes on while the second is awaited', async () => {
  const [first, second] = written.map((tape) => tape.barcode) as [string, string];
  // The tapes each VM's copy is read from, by sequence (1 = the first tape).
  const onFirstOnly = vms
    .map((vm) => vm.name)
    .find((name) => engine.catalog.tapes.copiesOf(name).every((copy) => [...wantedByTape([copy]).keys()].join() === '1'));
  assert.ok(onFirstOnly, 'a VM whose copy is all on the first tape');
  const needsSecond = vms.map((vm) => vm.name).filter((name) => name !== onFirstOnly);
  for (const barcode of [first, second]) await engine.tape.ejectTape(barcode, 'test');
  const out = join(dir, 'both-offline');
  const { jobs, pullList } = await engine.tape.startRestore(
    { vms: vms.map((vm) => vm.name), point: 'latest', target: { kind: 'local', path: out } },
    'test',
  );
  assert.deepEqual(
    pullList.map((entry) => [entry.barcode, entry.online]),
    [
      [first, false],
      [second, false],
    ],
  );
  // Both prompts are up before the first tape is brought: the operator fetches both in one trip.
  const open = await until(
    'both prompts',
    () => {
      const prompts = engine.tape.prompts.list(true);
      return prompts.length === 2 ? prompts : undefined;
    },
    60_000,
  );
  assert.deepEqual(open.map((prompt) => prompt.barcode).reverse(), [first, second], 'listed newest first, raised in pull-list order');
  await engine.tape.importTape(first, undefined, 'test');
  const early = jobs.find((job) => job.vmName === onFirstOnly) as (typeof jobs)[number];
  const done = await runJob(engine, early);
  assert.equal(done.state, 'succeeded', done.error ?? '');
  assert.equal(
    engine.tape.prompts
      .list(true)
      .map((prompt) => prompt.barcode)
      .join(),
    second,
    'the second tape is still asked for',
  );
  const log = engine.catalog
    .jobEvents(early.id)
    .map((event) => event.message)
    .join('\n');
  assert.match(log, new RegExp(`waited [0-9.]+ s for tape ${first} to be brought`));
  assert.match(log, new RegExp(`tape ${first} loaded and rewound in [0-9.]+ s`));
  await engine.tape.importTape(second, undefined, 'test');
  const rest = await Promise.all(jobs.filter((job) => job !== early).map((job) => runJob(engine, job)));
  for (const job of rest) assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.deepEqual(rest.map((job) => job.vmName).sort(), [...needsSecond].sort());
  assert.equal(engine.tape.prompts.list(true).length, 0);
  for (const vm of vms) identical(vm.raw, join(out, vm.name, `${vm.name}.vmdk`));
});

test('through a staging repository: the backup restore job stages, the VM job restores, the staging goes', async () => {
  const staging = join(dir, 'staging');
  const out = join(dir, 'staged-restore');
  const vm = vms[2] as (typeof vms)[number];
  const { jobs } = await engine.tape.startRestore(
    { vms: [vm.name], point: 'latest', target: { kind: 'local', path: out }, staging },
    'test',
  );
  assert.deepEqual(
    jobs.map((job) => job.kind),
    ['tape-stage', 'tape-restore'],
  );
  const [stage, restore] = await Promise.all(jobs.map((job) => runJob(engine, job)));
  assert.equal(stage?.state, 'succeeded', stage?.error ?? '');
  assert.equal(restore?.state, 'succeeded', restore?.error ?? '');
  assert.equal(restore?.steps[0]?.name, 'wait-for-staging');
  identical(vm.raw, join(out, `${vm.name}.vmdk`));
  assert.deepEqual(await readdir(staging), [], 'the staging copy is deleted at the end');
});

test('a staged restore whose VM restore fails still deletes the staging copy', async () => {
  const staging = join(dir, 'staging-fail');
  const vm = vms[0] as (typeof vms)[number];
  // The target is not empty: the VM restore fails after the backup was staged.
  const { jobs } = await engine.tape.startRestore(
    { vms: [vm.name], point: 'latest', target: { kind: 'local', path: dir }, staging },
    'test',
  );
  const [stage, restore] = await Promise.all(jobs.map((job) => runJob(engine, job)));
  assert.equal(stage?.state, 'succeeded');
  assert.equal(restore?.state, 'failed');
  assert.match(restore?.error ?? '', /not empty/);
  assert.deepEqual(await readdir(staging), []);
});

test('an empty catalog learns a media set by scanning its tapes, then restores the same', async () => {
  const home = join(dir, 'home-elsewhere');
  const other = await openEngine(home);
  await other.tape.createLibrary({ slots: 4, drives: 1, mailslots: 1, tapes: 0, capacityBytes: 16 * MIB, timeScale: 0.001, rateScale: 1 });
  const [first, last] = written.map((tape) => tape.barcode) as [string, string];
  for (const barcode of [first, last]) await other.tape.importTape(barcode, join(lab.home, 'tape', 'media', `${barcode}.tap`), 'test');
  // The last tape's catalog knows every block, but not the barcode of the first tape.
  const scannedLast = await runJob(other, await other.tape.startCatalog(last, 'test'));
  assert.equal(scannedLast.state, 'succeeded', scannedLast.error ?? '');
  // Its catalog holds the copies with data on it; the one that spans both tapes needs tape 1 too.
  const known = other.catalog.tapes.summaries();
  assert.ok(known.length >= 1 && known.length < 3, `${known.length} copies known from the last tape`);
  const spanning = known.find(
    (copy) => engine.catalog.tapes.summaries().find((mine) => mine.vmName === copy.vmName)?.barcodes.length === 2,
  );
  assert.ok(spanning, 'one VM spans both tapes');
  await assert.rejects(
    other.tape.startRestore({ vms: [spanning.vmName], point: 'latest', target: { kind: 'local', path: join(dir, 'nowhere') } }, 'test'),
    /needs tape 1 of media set .* not in the catalog/,
  );
  const scannedFirst = await runJob(other, await other.tape.startCatalog(first, 'test'));
  assert.equal(scannedFirst.state, 'succeeded', scannedFirst.error ?? '');
  const out = join(dir, 'restored-elsewhere');
  const { jobs } = await other.tape.startRestore(
    { vms: vms.map((vm) => vm.name), point: 'latest', target: { kind: 'local', path: out } },
    'test',
  );
  for (const job of await Promise.all(jobs.map((job) => runJob(other, job)))) assert.equal(job.state, 'succeeded', job.error ?? '');
  for (const vm of vms) identical(vm.raw, join(out, vm.name, `${vm.name}.vmdk`));
});
