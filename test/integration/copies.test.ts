// Copies and regions: a GRS policy copies every point to two repositories in the primary's region
// and one in the secondary, each file read back and hashed; restores take the fastest whole
// copy, fall back when the primary is unreadable, restore from the secondary on purpose (a
// drill), and refuse a stale or incomplete secondary with a clear sentence.
import assert from 'node:assert/strict';
import { access, mkdir, readdir, rename, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { changeRaw, makeVmFolder, openEngine, qemuImg, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const dir = await tempDir();
const engine = await openEngine(join(dir, 'home'));
const api = inProcessApi(engine);
const folder = join(dir, 'vm');
await mkdir(folder);
const raw = join(dir, 'db.raw');
await writeMixedRaw(raw, 8, 3);
const generations = [join(dir, 'gen1.raw'), join(dir, 'gen2.raw')];
await makeVmFolder(folder, 'db', raw, 'monolithicFlat');
qemuImg('convert', '-f', 'raw', '-O', 'raw', raw, generations[0] as string);
assert.equal((await runJob(engine, await engine.backups.start(folder, 'test'))).state, 'succeeded');
await changeRaw(raw, 1);
await makeVmFolder(folder, 'db', raw, 'monolithicFlat');
qemuImg('convert', '-f', 'raw', '-O', 'raw', raw, generations[1] as string);
assert.equal((await runJob(engine, await engine.backups.start(folder, 'test'))).state, 'succeeded');
const vmId = engine.lookup.resolveVm('db').id;
const sites = { near: join(dir, 'near'), zoned: join(dir, 'zoned'), far: join(dir, 'far') };

async function restoreTo(
  name: string,
  request: { point?: string; fromRegion?: string } = {},
): Promise<{ path: string; job: Awaited<ReturnType<typeof runJob>> }> {
  const path = join(dir, 'restored', name);
  const { job } = await api.invoke('restore.entireVm', {
    vm: 'db',
    point: request.point ?? '2',
    target: { kind: 'local', path },
    ...(request.fromRegion ? { fromRegion: request.fromRegion } : {}),
  });
  return { path, job: await runJob(engine, job) };
}

test('GRS is refused until the repositories can meet it, then a copy job copies every point and checks it', async () => {
  await api.invoke('settings.set', { copyPolicy: 'grs' });
  await assert.rejects(api.invoke('copies.run', {}), {
    code: 'conflict',
    message: /GRS needs 2 more repositories in region primary and a repository in another region/,
  });
  await api.invoke('repos.add', { name: 'near', path: sites.near, region: 'primary', zone: 'zone-2' });
  await api.invoke('repos.add', { name: 'zoned', path: sites.zoned, region: 'primary', zone: 'zone-3' });
  await assert.rejects(api.invoke('repos.add', { name: 'inside', path: join(sites.near, 'x'), region: 'primary', zone: 'zone-4' }), {
    code: 'conflict',
    message: /overlaps repository near/,
  });
  await assert.rejects(api.invoke('repos.add', { name: 'near', path: join(dir, 'other'), region: 'primary', zone: 'zone-4' }), {
    code: 'conflict',
  });
  // A file, a folder of other things, a folder under a file: refused, nothing written.
  await assert.rejects(api.invoke('repos.add', { name: 'file', path: raw, region: 'primary', zone: 'zone-4' }), {
    code: 'bad-request',
    message: /is not a folder/,
  });
  await assert.rejects(api.invoke('repos.add', { name: 'busy', path: folder, region: 'primary', zone: 'zone-4' }), {
    code: 'conflict',
    message: /is not empty and holds no Lifeboat repository/,
  });
  await assert.rejects(api.invoke('repos.add', { name: 'under-file', path: join(raw, 'copy'), region: 'primary', zone: 'zone-4' }), {
    code: 'bad-request',
    message: /is not a folder/,
  });
  await assert.rejects(access(join(folder, 'repository.json')), { code: 'ENOENT' });
  await api.invoke('repos.add', { name: 'far', path: sites.far, region: 'secondary', zone: 'zone-1' });
  const before = await api.invoke('copies.status', { vm: 'db' });
  assert.equal(before.problem, null);
  assert.deepEqual(
    before.vms[0]?.points.map((point) => point.lacking),
    [
      ['2 more copies in region primary', 'a copy in the secondary region'],
      ['2 more copies in region primary', 'a copy in the secondary region'],
    ],
  );

  const job = await runJob(engine, (await api.invoke('copies.run', {})).job);
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.equal(job.result?.copied, 6, 'two points to three repositories');
  assert.equal(job.result?.pointsMeetingPolicy, 2);
  const status = await api.invoke('copies.status', { vm: 'db' });
  assert.ok(status.vms[0]?.points.every((point) => point.meetsPolicy));
  const [latest] = await api.invoke('points.list', { vm: 'db' });
  assert.deepEqual(
    latest?.copies.map((copy) => [copy.name, copy.tier, copy.region]),
    [
      ['default', 'snapshot', 'primary'],
      ['near', 'vault', 'primary'],
      ['zoned', 'vault', 'primary'],
      ['far', 'vault', 'secondary'],
    ],
    'fastest first',
  );
  assert.ok(!(await readdir(join(sites.far, 'vms', vmId, 'points'))).some((name) => name.startsWith('.partial-')));
  // A second run finds nothing to do; a third while it is queued is refused.
  const again = (await api.invoke('copies.run', {})).job;
  await assert.rejects(api.invoke('copies.run', {}), { code: 'conflict', message: /copy job .* is (queued|running)/ });
  assert.equal((await runJob(engine, again)).result?.copied, 0);
});

test('a drill restores from the secondary region on purpose: identical disks, and it says where it read', async () => {
  const { path, job } = await restoreTo('drill', { fromRegion: 'secondary' });
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.deepEqual(job.result?.source, { repository: 'far', region: 'secondary', zone: 'zone-1', tier: 'vault' });
  assert.match(job.summary, /from copy far \(region secondary\)/);
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', generations[1] as string, join(path, 'db.vmdk')), /identical/);
  const { events } = await api.invoke('jobs.get', { jobId: job.id });
  assert.ok(
    events.some((event) => /reading point 2 of db from far \(vault tier, region secondary, zone zone-1\) as asked/.test(event.message)),
  );
});

test('with the primary unreadable a restore reads the next copy; with the whole primary region gone, the secondary', async () => {
  const primaryVm = join(dir, 'home', 'repositories', 'default', 'vms', vmId);
  await rename(primaryVm, `${primaryVm}.lost`);
  try {
    const fallback = await restoreTo('fallback');
    assert.equal(fallback.job.state, 'succeeded', fallback.job.error ?? '');
    assert.equal((fallback.job.result?.source as { repository: string }).repository, 'near');
    const { events } = await api.invoke('jobs.get', { jobId: fallback.job.id });
    assert.ok(events.some((event) => event.level === 'warning' && /passed over default: /.test(event.message)));

    for (const site of [sites.near, sites.zoned]) await rename(join(site, 'vms'), join(site, 'vms.lost'));
    const crossRegion = await restoreTo('cross-region', { point: '1' });
    assert.equal(crossRegion.job.state, 'succeeded', crossRegion.job.error ?? '');
    assert.equal((crossRegion.job.result?.source as { region: string }).region, 'secondary');
    assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', generations[0] as string, join(crossRegion.path, 'db.vmdk')), /identical/);
    const status = await api.invoke('copies.status', { vm: 'db' });
    assert.deepEqual(
      status.vms[0]?.points[0]?.copies.filter((copy) => copy.state === 'missing').map((copy) => copy.name),
      ['default', 'near', 'zoned'],
    );
  } finally {
    await rename(`${primaryVm}.lost`, primaryVm);
    for (const site of [sites.near, sites.zoned]) await rename(join(site, 'vms.lost'), join(site, 'vms')).catch(() => undefined);
  }
});

test('a stale or incomplete secondary is refused with a clear sentence, before anything is written', async () => {
  await writeFile(join(folder, 'note.txt'), 'point 3 has no copy yet');
  assert.equal((await runJob(engine, await engine.backups.start(folder, 'test'))).state, 'succeeded');
  await assert.rejects(restoreTo('stale', { point: '3', fromRegion: 'secondary' }), {
    code: 'not-found',
    message: /the copy in region secondary is stale: it holds points up to 2, not point 3 of db; run `lifeboat copies run` first/,
  });
  await assert.rejects(restoreTo('nowhere', { fromRegion: 'mars' }), { code: 'not-found', message: /no repository is in region mars/ });

  const farPoints = join(sites.far, 'vms', vmId, 'points');
  const pointTwo = (await readdir(farPoints)).find((name) => name.startsWith('000002-')) as string;
  await truncate(join(farPoints, pointTwo, 'data.lbd'), 1000);
  await assert.rejects(restoreTo('incomplete', { fromRegion: 'secondary' }), {
    code: 'corrupt-backup',
    message: /the copy of point 2 of db in far \(region secondary\) is incomplete: data file of db point 2 is 1000 bytes/,
  });
  await assert.rejects(access(join(dir, 'restored', 'incomplete')), { code: 'ENOENT' });
});

test('a copy whose source does not match its hashes is not published', async () => {
  const primaryPoints = join(dir, 'home', 'repositories', 'default', 'vms', vmId, 'points');
  const pointThree = (await readdir(primaryPoints)).find((name) => name.startsWith('000003-')) as string;
  await writeFile(join(primaryPoints, pointThree, 'disk-0.map'), 'not the map the manifest hashed');
  const job = await runJob(engine, (await api.invoke('copies.run', { vms: ['db'] })).job);
  assert.equal(job.state, 'failed');
  assert.match(job.error ?? '', /db point 3: disk-0\.map in the primary does not match its manifest's hash/);
  for (const site of Object.values(sites)) {
    const names = await readdir(join(site, 'vms', vmId, 'points'));
    assert.ok(!names.some((name) => name.startsWith('000003-') || name.startsWith('.partial-')), `${site} holds no part of point 3`);
  }
});
