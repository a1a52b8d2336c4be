// Restore rehearsals: VMs restored in parallel to an isolated target, each checked (local copies
// block by block against the point; on vSphere by powering on), timed, removed, and reported.
import assert from 'node:assert/strict';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLab } from '../../electron/lab/create-lab.ts';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { asOwner } from '../helpers/owner.ts';
import { resolvePoint } from '../../electron/repository/chain.ts';
import { compareDiskToFile } from '../../electron/restore/disk-transfer.ts';
import { openEngine, qemuImg, runJob } from '../helpers/env.ts';
import { tapeLab } from '../helpers/tape.ts';
import { addSimulatorHost, startVcsim, vcsimUnavailable, type Vcsim } from '../helpers/vcsim.ts';
import { WorkerPool } from '../../electron/workers/pool.ts';

const unavailable = vcsimUnavailable();
const vc: Vcsim | null = unavailable ? null : await startVcsim();
const { engine, dir, vms } = await tapeLab({ vms: 2, diskMib: 12, tapeMib: 64, toTape: false });
const names = vms.map((vm) => vm.name);

type Outcome = { vm: string; state: string; check: string; rtoSeconds: number | null; error: string | null };

test('a local rehearsal restores, checks and times every VM, then removes the copies and keeps a report', async () => {
  const target = join(dir, 'isolated');
  const job = await runJob(
    engine,
    engine.rehearsals.start({ vms: names, point: 'latest', target: { kind: 'local', path: target }, keep: false }, 'test'),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const outcomes = job.result?.vms as Outcome[];
  assert.deepEqual(
    outcomes.map((outcome) => [outcome.vm, outcome.state]),
    names.map((name) => [name, 'passed']),
  );
  for (const outcome of outcomes) {
    assert.match(outcome.check, /blocks match the restore point's SHA-256/);
    assert.ok(typeof outcome.rtoSeconds === 'number' && outcome.rtoSeconds > 0);
  }
  assert.equal(
    await stat(target).then(
      () => true,
      () => false,
    ),
    false,
    'the isolated copies are gone',
  );
  const html = await engine.rehearsals.report(job.id);
  assert.match(html, /2 of 2 VM\(s\) passed/);
  for (const name of names) assert.match(html, new RegExp(`<td>${name}</td>`));
  assert.doesNotMatch(html, /<script/i);
});

test('kept copies are identical to the sources, and a changed block is caught', async () => {
  const target = join(dir, 'kept');
  const job = await runJob(
    engine,
    engine.rehearsals.start({ vms: [names[0] as string], point: 'latest', target: { kind: 'local', path: target }, keep: true }, 'test'),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const copy = join(target, `${names[0]}-rehearsal`);
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', vms[0]?.raw as string, join(copy, `${names[0]}-rehearsal.vmdk`)), /identical/);
  const flat = join(copy, `${names[0]}-rehearsal-flat.vmdk`);
  const handle = await open(flat, 'r+');
  await handle.write(Buffer.from([0x5a]), 0, 1, 3 * 1024 * 1024 + 17);
  await handle.close();
  const vmId = engine.lookup.resolveVm(names[0] as string).id;
  const point = await resolvePoint(engine.repository, vmId, engine.lookup.resolvePointId(vmId, 'latest'));
  const pool = new WorkerPool(2);
  try {
    const context = {
      signal: new AbortController().signal,
      log: () => undefined,
      resources: { record: () => 0, update: () => undefined },
      progress: () => undefined,
      waiting: () => undefined,
      busy: () => undefined,
    };
    const outcome = await compareDiskToFile({
      pool,
      point,
      disk: point.disks[0] as (typeof point.disks)[number],
      path: flat,
      targetLabel: 'test',
      context,
      onProgress: () => undefined,
    });
    assert.equal(outcome.differing, 1);
  } finally {
    await pool.close();
  }
});

test('a rehearsal with a VM that cannot be restored fails, says which, and still reports', { skip: unavailable ?? false }, async () => {
  const host = vc as Vcsim;
  if (!engine.catalog.findHost('vc')) await addSimulatorHost(engine, host);
  const job = await runJob(
    engine,
    engine.rehearsals.start(
      { vms: names, point: 'latest', target: { kind: 'vsphere', host: 'vc', datastore: 'NoSuchDS' }, keep: false },
      'test',
    ),
  );
  assert.equal(job.state, 'failed');
  assert.match(job.error ?? '', /2 of 2 VM\(s\) failed the rehearsal/);
  const html = await engine.rehearsals.report(job.id);
  assert.match(html, /datastore &quot;NoSuchDS&quot; does not exist/);
});

test('on vSphere each VM is powered on, timed, then powered off and removed', { skip: unavailable ?? false }, async () => {
  const host = vc as Vcsim;
  if (!engine.catalog.findHost('vc')) await addSimulatorHost(engine, host);
  const job = await runJob(
    engine,
    engine.rehearsals.start(
      { vms: names, point: 'latest', target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_1' }, keep: false },
      'test',
    ),
  );
  assert.equal(job.state, 'succeeded', `${job.error ?? ''} ${JSON.stringify(job.result?.vms)}`);
  for (const outcome of job.result?.vms as Outcome[]) assert.deepEqual([outcome.state, outcome.check], ['passed', 'powered on']);
  const left = (await engine.hosts.inventory('vc')).vms.filter((name) => name.endsWith('-rehearsal'));
  assert.deepEqual(left, [], 'the rehearsal VMs are removed');
  assert.deepEqual(
    (await readdir(join(host.datastores.LocalDS_1 as string))).filter((name) => name.endsWith('-rehearsal')),
    [],
  );
});

test('a client of the engine can make the demo lab on an empty home', async () => {
  const fresh = await openEngine(join(dir, 'empty-home'));
  assert.deepEqual(fresh.catalog.listVms(), []);
  const made = (await createLab(inProcessApi(fresh, asOwner()), fresh.paths.lab, { vms: 1, points: 1, diskMib: 16 })).map((vm) => vm.name);
  assert.equal(made.length, 1);
  assert.deepEqual(
    fresh.catalog.listVms().map((vm) => [vm.name, vm.pointCount]),
    [[made[0], 1]],
  );
});
