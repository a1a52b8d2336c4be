// Tape on a real library, end to end: tgt's SSC drives and SMC changer over loopback iSCSI, with
// libiscsi's iscsi-inq as the independent check of what the target offers. `tape library add`
// finds the changer and the drives; two VMs go to tape, then a third; one tape is taken out of the
// library; restoring the three raises one prompt (the tape goes back through a mail slot), loads
// and reads each tape once, and gives disks identical to the originals; a batch goes through a
// staging repository. A second engine with an empty catalog scans a tape and restores from it, and
// neither engine keeps a session once it has let go of the library.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startTgtLibrary, tgtUnavailable, type TgtLibrary } from '../../scripts/peers/tgt.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import type { Job } from '../../shared/domain.ts';
import { openEngine, qemuImg, runJob, tempDir, until } from '../helpers/env.ts';
import { tapeLab, tapesOf, type TapeLab } from '../helpers/tape.ts';

const skip = await tgtUnavailable();
const BARCODES = ['TGT001', 'TGT002', 'TGT003', 'TGT004', 'TGT005'];

let tgt: TgtLibrary | null = null;
let lab: TapeLab | null = null;
if (!skip) {
  const dir = await tempDir('lifeboat-tape-iscsi-');
  tgt = await startTgtLibrary(join(dir, 'tgt'), {
    drives: 2,
    slots: 8,
    mailslots: 2,
    tapes: BARCODES.map((barcode) => ({ barcode, sizeMiB: 256 })),
  });
  lab = await tapeLab({ vms: 3, diskMib: 12, tapeMib: 64, toTape: false });
}
after(async () => {
  await lab?.engine.close();
  await tgt?.stop();
});

function identical(raw: string, vmdk: string): void {
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', raw, vmdk), /identical/);
}

/** What libiscsi's own initiator reads from a LUN's standard INQUIRY. */
function inquiryByLibiscsi(url: string, lun: number): { vendor: string; product: string } {
  const text = execFileSync('iscsi-inq', [`${url}/${lun}`], { encoding: 'utf8', timeout: 20_000 });
  const field = (name: string): string => new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  return { vendor: field('Vendor'), product: field('Product') };
}

function started(): { tgt: TgtLibrary; lab: TapeLab; engine: Engine } {
  assert.ok(tgt && lab);
  return { tgt, lab, engine: lab.engine };
}

const written = new Map<string, string[]>();

test('tape library add finds the changer and both drives, as libiscsi sees them', { skip: skip ?? false }, async () => {
  const { tgt, engine, lab } = started();
  const { library, inventory } = await engine.tape.addLibrary({ url: tgt.url, name: 'tgt' }, 'test');
  assert.deepEqual([library.name, library.kind, library.url, library.inUse, library.chapUser], ['tgt', 'iscsi', tgt.url, true, null]);
  assert.equal(inventory.source.kind, 'iscsi');
  assert.equal(inventory.source.address, tgt.url);
  const changer = inquiryByLibiscsi(tgt.url, tgt.luns.changer);
  assert.equal(inventory.source.changer?.vendor, changer.vendor);
  assert.equal(inventory.source.changer?.product, changer.product);
  assert.equal(inventory.source.drives.length, 2);
  for (const [index, lun] of tgt.luns.drives.entries()) {
    const drive = inquiryByLibiscsi(tgt.url, lun);
    assert.equal(inventory.source.drives[index]?.product, drive.product, `drive ${index + 1}`);
  }
  assert.deepEqual([inventory.slots.length, inventory.drives.length, inventory.mailslots.length], [8, 2, 2]);
  assert.deepEqual(inventory.cartridges.map((cartridge) => cartridge.barcode).sort(), BARCODES);
  assert.ok(inventory.cartridges.every((cartridge) => cartridge.location.kind === 'slot'));
  const list = await engine.tape.listLibraries();
  assert.equal(list.inUse, 'tgt');
  assert.equal(list.virtualExists, true, 'the virtual library stays');
  // The catalog holds the address, never a secret; an image import is for the virtual library only.
  await assert.rejects(engine.tape.importTape('TGT009', join(lab.dir, 'nothing.tap'), 'test'), {
    code: 'bad-request',
    message: /only be imported into the virtual library/,
  });
});

test('two VMs to tape, then a third: every tape written is named in the catalog', { skip: skip ?? false }, async () => {
  const { engine, lab } = started();
  const [a, b, c] = lab.vms as [TapeLab['vms'][number], TapeLab['vms'][number], TapeLab['vms'][number]];
  const first = await runJob(engine, await engine.tape.startBackup([a.name, b.name], 'weekly', 'latest', 'test'));
  assert.equal(first.state, 'succeeded', first.error ?? '');
  const second = await runJob(engine, await engine.tape.startBackup([c.name], 'monthly', 'latest', 'test'));
  assert.equal(second.state, 'succeeded', second.error ?? '');
  written.set(
    'weekly',
    tapesOf(first).map((tape) => tape.barcode),
  );
  written.set(
    'monthly',
    tapesOf(second).map((tape) => tape.barcode),
  );
  const all = [...written.values()].flat();
  assert.equal(new Set(all).size, all.length, 'the two media sets use different tapes');
  assert.deepEqual(new Set(engine.catalog.tapes.summaries().flatMap((copy) => copy.barcodes)), new Set(all));
});

test(
  'three VMs, one tape out of the library: one prompt, one load and one pass per tape, identical disks',
  { skip: skip ?? false },
  async () => {
    const { tgt, engine, lab } = started();
    const out = join(lab.dir, 'restored-iscsi');
    const away = written.get('monthly')?.[0];
    assert.ok(away, 'the third VM was written');
    // Out through a mail slot, then taken away by the operator.
    const ejected = await engine.tape.ejectTape(away, 'test');
    const location = ejected.cartridges.find((cartridge) => cartridge.barcode === away)?.location;
    assert.equal(location?.kind, 'mailslot');
    await tgt.removeFromMailslot(location.kind === 'mailslot' ? location.index : 0);

    const { jobs, pullList } = await engine.tape.startRestore(
      { vms: lab.vms.map((vm) => vm.name), point: 'latest', target: { kind: 'local', path: out } },
      'test',
    );
    assert.equal(jobs.length, 3);
    assert.deepEqual(
      pullList.filter((entry) => !entry.online).map((entry) => entry.barcode),
      [away],
    );
    const prompt = await until('the insert-tape prompt', () => engine.tape.prompts.list(true)[0], 120_000, 50);
    assert.equal(prompt.barcode, away);
    await tgt.insertIntoMailslot(away, 0);
    await engine.tape.importTape(away, undefined, 'test');

    const ended: Job[] = await Promise.all(jobs.map((job) => runJob(engine, job)));
    for (const job of ended) assert.equal(job.state, 'succeeded', job.error ?? '');
    assert.equal(engine.tape.prompts.list(false).length, 1, 'one prompt for the whole request');
    const reports = new Map(ended.flatMap(tapesOf).map((tape) => [tape.barcode, tape]));
    assert.deepEqual(new Set(reports.keys()), new Set([...written.values()].flat()));
    for (const tape of reports.values()) assert.deepEqual([tape.loads, tape.passes], [1, 1], `tape ${tape.barcode}`);
    for (const vm of lab.vms) identical(vm.raw, join(out, vm.name, `${vm.name}.vmdk`));
  },
);

test(
  'a batch of two VMs through a staging repository: staged from the real tapes, restored, the staging gone',
  { skip: skip ?? false },
  async () => {
    const { engine, lab } = started();
    const staging = join(lab.dir, 'staging-iscsi');
    await mkdir(staging);
    const out = join(lab.dir, 'staged-iscsi');
    const picked = [lab.vms[0], lab.vms[2]] as TapeLab['vms'];
    const { jobs } = await engine.tape.startRestore(
      { vms: picked.map((vm) => vm.name), point: 'latest', target: { kind: 'local', path: out }, staging },
      'test',
    );
    assert.deepEqual(jobs.map((job) => job.kind).sort(), ['tape-restore', 'tape-restore', 'tape-stage', 'tape-stage']);
    const ended = await Promise.all(jobs.map((job) => runJob(engine, job)));
    for (const job of ended) assert.equal(job.state, 'succeeded', job.error ?? '');
    for (const vm of picked) identical(vm.raw, join(out, vm.name, `${vm.name}.vmdk`));
    assert.deepEqual(await readdir(staging), [], 'the staging copies are deleted at the end');
  },
);

test('a second engine with an empty catalog scans a tape and restores from it', { skip: skip ?? false }, async () => {
  const { tgt, engine, lab } = started();
  // One initiator at a time drives the changer: the first engine goes back to its virtual library.
  await engine.tape.useLibrary('virtual', 'test');
  const home = join(lab.dir, 'home-scan');
  const other = await openEngine(home);
  try {
    await other.tape.addLibrary({ url: tgt.url }, 'test');
    const barcode = written.get('monthly')?.[0] as string;
    const scan = await runJob(other, await other.tape.startCatalog(barcode, 'test'));
    assert.equal(scan.state, 'succeeded', scan.error ?? '');
    const vm = lab.vms[2] as TapeLab['vms'][number];
    assert.deepEqual(
      other.catalog.tapes.summaries().map((copy) => copy.vmName),
      [vm.name],
    );
    const out = join(lab.dir, 'restored-after-scan');
    const { jobs } = await other.tape.startRestore({ vms: [vm.name], point: 'latest', target: { kind: 'local', path: out } }, 'test');
    const job = await runJob(other, jobs[0] as Job);
    assert.equal(job.state, 'succeeded', job.error ?? '');
    identical(vm.raw, join(out, `${vm.name}.vmdk`));
  } finally {
    await other.close();
  }
  // Both engines let go of the target: the first when it turned to its virtual library, the
  // second when it closed (an iSCSI logout each).
  assert.equal((await tgt.admin(['--op', 'show', '--mode', 'conn', '--tid', '1'])).trim(), '');
  await engine.tape.useLibrary('tgt', 'test');
});

test('list, use and remove: the virtual library is always there to go back to', { skip: skip ?? false }, async () => {
  const { engine } = started();
  await assert.rejects(engine.tape.addLibrary({ url: 'iscsi://127.0.0.1:1/iqn.none', name: 'tgt' }, 'test'), { code: 'conflict' });
  await assert.rejects(engine.tape.useLibrary('nowhere', 'test'), { code: 'not-found' });
  // Nothing listens there: the error names the address, and nothing is stored.
  const down = 'iscsi://127.0.0.1:9/iqn.2026-12.org.lifeboat.test:down';
  await assert.rejects(engine.tape.addLibrary({ url: down, name: 'down' }, 'test'), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'unavailable');
    assert.ok(error.message.includes(down), error.message);
    return true;
  });
  assert.equal((await engine.tape.listLibraries()).libraries.length, 1);
  assert.equal((await engine.tape.listLibraries()).inUse, 'tgt');
  await engine.tape.useLibrary('virtual', 'test');
  assert.equal((await engine.tape.inventory()).source.kind, 'virtual');
  assert.deepEqual(await engine.tape.removeLibrary('tgt', 'test'), { removed: 'tgt' });
  assert.deepEqual((await engine.tape.listLibraries()).libraries, []);
});
