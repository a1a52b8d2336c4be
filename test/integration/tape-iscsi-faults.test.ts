// Faults of a real library over iSCSI (tgt on loopback): write-protected media refused before
// anything is written, a backup larger than a tape spanning to the next one, the wrong tape in the
// drive, a medium error, a target that drops the connection mid-read (through a TCP proxy), and a
// target that is down when the engine next needs it. Every restore that fails leaves nothing in
// its target folder.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rename, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startTgtLibrary, tgtUnavailable, type TgtLibrary } from '../../scripts/peers/tgt.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import type { Job } from '../../shared/domain.ts';
import { openEngine, qemuImg, runJob } from '../helpers/env.ts';
import { startIscsiProxy } from '../helpers/iscsi-proxy.ts';
import { tapeLab, tapesOf, type TapeLab } from '../helpers/tape.ts';

const skip = await tgtUnavailable();
const BARCODES = ['FLT001', 'FLT002', 'FLT003', 'FLT004', 'FLT005', 'FLT006'];
const TAPE_MIB = 4;
const MIB = 1024 * 1024;

let tgt: TgtLibrary | null = null;
let lab: TapeLab | null = null;
if (!skip) {
  lab = await tapeLab({ vms: 2, diskMib: 24, tapeMib: 64, toTape: false });
  tgt = await startTgtLibrary(join(lab.dir, 'tgt'), {
    drives: 2,
    slots: 8,
    mailslots: 1,
    tapes: BARCODES.map((barcode) => ({ barcode, sizeMiB: TAPE_MIB })),
  });
  await lab.engine.tape.addLibrary({ url: tgt.url, name: 'tgt' }, 'test');
}
after(async () => {
  await lab?.engine.close();
  await tgt?.stop();
});

function started(): { tgt: TgtLibrary; lab: TapeLab; engine: Engine; vm: TapeLab['vms'][number] } {
  assert.ok(tgt && lab);
  return { tgt, lab, engine: lab.engine, vm: lab.vms[0] as TapeLab['vms'][number] };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function digest(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

async function restoreOnce(engine: Engine, vm: string, name: string, dir: string): Promise<{ job: Job; target: string }> {
  const target = join(dir, `out-${name}`);
  const { jobs } = await engine.tape.startRestore({ vms: [vm], point: 'latest', target: { kind: 'local', path: target } }, 'test');
  return { job: await runJob(engine, jobs[0] as Job), target };
}

async function driveParams(tgt: TgtLibrary, params: string): Promise<void> {
  for (const lun of tgt.luns.drives)
    await tgt.admin(['--op', 'update', '--mode', 'logicalunit', '--tid', '1', '--lun', String(lun), '--params', params]);
}

let spanned: string[] = [];

test('write-protected media: the backup fails clearly and no tape changes', { skip: skip ?? false }, async () => {
  const { tgt, engine, vm } = started();
  const before = await Promise.all(BARCODES.map((barcode) => digest(tgt.tapePath(barcode))));
  await driveParams(tgt, 'readonly=1');
  try {
    const job = await runJob(engine, await engine.tape.startBackup([vm.name], 'weekly', 'latest', 'test'));
    assert.equal(job.state, 'failed');
    assert.match(job.error ?? '', /write[- ]protect/i);
  } finally {
    await driveParams(tgt, 'readonly=0');
  }
  assert.deepEqual(await Promise.all(BARCODES.map((barcode) => digest(tgt.tapePath(barcode)))), before, 'nothing was written');
  assert.equal(engine.catalog.tapes.summaries().length, 0);
});

test('end of medium while writing: the backup spans to the next tape, and restores from all of them', { skip: skip ?? false }, async () => {
  const { engine, lab } = started();
  // Two VMs of 24 MiB of mixed data do not fit on one tape of 4 MiB: tgt warns of the end near it.
  const job = await runJob(
    engine,
    await engine.tape.startBackup(
      lab.vms.map((vm) => vm.name),
      'weekly',
      'latest',
      'test',
    ),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  spanned = tapesOf(job).map((tape) => tape.barcode);
  assert.ok(spanned.length >= 2, `the set spans tapes: ${spanned.join(', ')}`);
  // And it reads back across the tapes, each loaded once.
  const out = join(lab.dir, 'out-spanned');
  const { jobs } = await engine.tape.startRestore(
    { vms: lab.vms.map((vm) => vm.name), point: 'latest', target: { kind: 'local', path: out } },
    'test',
  );
  const ended = await Promise.all(jobs.map((restore) => runJob(engine, restore)));
  for (const restore of ended) assert.equal(restore.state, 'succeeded', restore.error ?? '');
  const reports = new Map(ended.flatMap(tapesOf).map((tape) => [tape.barcode, tape]));
  assert.deepEqual(new Set(reports.keys()), new Set(spanned));
  for (const tape of reports.values()) assert.deepEqual([tape.loads, tape.passes], [1, 1], `tape ${tape.barcode}`);
  for (const vm of lab.vms)
    assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', vm.raw, join(out, vm.name, `${vm.name}.vmdk`)), /identical/);
});

test('the wrong tape in the drive is refused with its barcode, and nothing is restored', { skip: skip ?? false }, async () => {
  const { tgt, engine, lab, vm } = started();
  const [first] = spanned;
  assert.ok(first);
  const blank = BARCODES.find((barcode) => !spanned.includes(barcode)) as string;
  // The cartridge labelled `first` now holds a blank tape: what a misfiled cartridge looks like.
  const swap = async (): Promise<void> => {
    await rename(tgt.tapePath(first), `${tgt.tapePath(first)}.swap`);
    await rename(tgt.tapePath(blank), tgt.tapePath(first));
    await rename(`${tgt.tapePath(first)}.swap`, tgt.tapePath(blank));
  };
  await swap();
  try {
    const { job, target } = await restoreOnce(engine, vm.name, 'wrong-tape', lab.dir);
    assert.equal(job.state, 'failed');
    assert.match(job.error ?? '', new RegExp(`wrong tape.*${first}`));
    assert.equal(await exists(target), false);
  } finally {
    await swap();
  }
});

test('a medium error names the tape and leaves nothing in the target', { skip: skip ?? false }, async () => {
  const { tgt, engine, lab, vm } = started();
  const [first] = spanned as [string];
  const image = tgt.tapePath(first);
  const good = await readFile(image);
  // The tape ends in the middle of its data: the drive answers MEDIUM ERROR where it stops.
  await truncate(image, Math.floor(good.length * 0.4));
  try {
    const { job, target } = await restoreOnce(engine, vm.name, 'medium-error', lab.dir);
    assert.equal(job.state, 'failed');
    assert.match(job.error ?? '', new RegExp(`${first}|medium`, 'i'));
    assert.equal(await exists(target), false);
  } finally {
    await writeFile(image, good);
  }
});

test('a target that drops the connection mid-read: a clear error, nothing left in the target', { skip: skip ?? false }, async () => {
  const { tgt, engine, lab, vm } = started();
  const proxy = await startIscsiProxy(tgt.port);
  const url = `iscsi://127.0.0.1:${proxy.port}/${tgt.targetName}`;
  await engine.tape.useLibrary('virtual', 'test');
  await engine.tape.addLibrary({ url, name: 'through-proxy' }, 'test');
  try {
    await engine.tape.inventory();
    const target = join(lab.dir, 'out-dropped');
    // The VMs' backup is tens of MiB on tape: the connection goes 4 MiB into the restore's reads. The
    // initiator logs in again, but a tape READ is never sent twice: the restore fails.
    proxy.cutAfterDownstream(4 * MIB);
    const { jobs } = await engine.tape.startRestore({ vms: [vm.name], point: 'latest', target: { kind: 'local', path: target } }, 'test');
    const ended = await runJob(engine, jobs[0] as Job);
    assert.equal(proxy.connections, 2, 'the connection was dropped during the restore, and the initiator logged in again');
    assert.equal(ended.state, 'failed');
    assert.ok(ended.error?.startsWith(`${url}/`), ended.error ?? '');
    assert.match(ended.error ?? '', /the connection to the target dropped during READ\(6\); it was not sent again/);
    assert.equal(await exists(target), false);
  } finally {
    await engine.tape.useLibrary('tgt', 'test');
    await engine.tape.removeLibrary('through-proxy', 'test');
  }
});

test('an engine started while the target is down says which library is unavailable, on first use', { skip: skip ?? false }, async () => {
  const { tgt, lab } = started();
  await lab.engine.close();
  await tgt.stop();
  // The configured library is reconnected lazily: the engine starts, the first tape use fails clearly.
  const engine = await openEngine(lab.home);
  lab.engine = engine;
  await assert.rejects(engine.tape.inventory(), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'unavailable');
    assert.ok(error.message.includes(tgt.url), error.message);
    return true;
  });
  assert.equal((await engine.tape.listLibraries()).inUse, 'tgt');
});
