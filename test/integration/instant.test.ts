// Instant VM Recovery against govmomi's vCenter simulator and libnfs's tools: a restore point
// served over NFS, mounted on a host as a datastore, its VM registered and powered on; reads
// identical to the point, writes only in the session's cache; stop, quick migration to
// production, ten sessions at once, and bad input that leaves nothing behind.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { VsphereClient } from '../../electron/drivers/vsphere/vsphere-client.ts';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { VM_FOLDER_ID } from '../../electron/nfs/volume.ts';
import type { InstantSession } from '../../shared/domain.ts';
import { makeVmFolder, qemuImg, runJob, smallTmpfs, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { MIB, tapeLab } from '../helpers/tape.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';
import { handleOf, nfsWrite } from '../helpers/nfs-rpc.ts';
import { libnfs, sessionFileUrl } from '../helpers/session-nfs.ts';
import { NfsStatus } from '../../electron/nfs/nfs-status.ts';

const missing = vcsimUnavailable();
const DISK_MIB = 8;
const lab = await tapeLab({ vms: 3, diskMib: DISK_MIB, tapeMib: 64, toTape: false });
const { engine, vms } = lab;
await mkdir(join(lab.home, 'instant'), { recursive: true });
// NAS datastores' local paths resolve in vcsim's working folder: the engine's export folders.
const vc = missing ? null : await startVcsim({ cwd: join(lab.home, 'instant') });
if (vc) await engine.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'test');
const vm = vms[0] as (typeof vms)[number];
const api = inProcessApi(engine);

async function hostView(): Promise<{ vms: { name: string; power: string; path: string }[]; datastores: { name: string; type: string }[] }> {
  const client = await VsphereClient.connect(
    { url: new URL((vc as NonNullable<typeof vc>).url), insecure: true },
    (vc as NonNullable<typeof vc>).user,
    (vc as NonNullable<typeof vc>).password,
  );
  try {
    const inventory = await client.inventory();
    const vmsOnHost = await Promise.all(
      inventory.vms.map(async (found) => ({ name: found.name, power: await client.powerState(found.ref), path: found.vmPathName })),
    );
    return { vms: vmsOnHost, datastores: inventory.datastores.map((datastore) => ({ name: datastore.name, type: datastore.type })) };
  } finally {
    await client.logout();
  }
}

async function startSession(vmName: string, extra: Record<string, unknown> = {}): Promise<InstantSession> {
  const { job, session } = await api.invoke('instant.start', { vm: vmName, host: 'vc', listen: '127.0.0.1:0', ...extra });
  const ended = await runJob(engine, job);
  assert.equal(ended.state, 'succeeded', ended.error ?? '');
  return (await api.invoke('instant.list', {})).find((listed) => listed.id === session.id) as InstantSession;
}

async function gone(session: InstantSession): Promise<void> {
  const view = await hostView();
  assert.ok(!view.vms.some((found) => found.path.startsWith(`[${session.datastore}]`)), `no VM is registered from ${session.datastore}`);
  assert.ok(!view.datastores.some((datastore) => datastore.name === session.datastore), `${session.datastore} is unmounted`);
  await assert.rejects(access(join(lab.home, 'instant', session.datastore)), 'the export folder is gone');
  await assert.rejects(access(session.writesTo), 'the write cache is gone');
}

test(
  'instant recovery: the VM runs from an NFS datastore served from the backup; reads are the point, writes stay in the cache; stop takes it all away',
  { skip: missing ?? false },
  async () => {
    const session = await startSession(vm.name);
    assert.equal(session.state, 'running');
    assert.ok((session.poweredOnSeconds ?? 0) > 0);
    const view = await hostView();
    assert.deepEqual(
      view.vms.find((found) => found.name === vm.name),
      { name: vm.name, power: 'poweredOn', path: `[${session.datastore}] ${vm.name}/${vm.name}.vmx` },
    );
    assert.deepEqual(
      view.datastores.find((datastore) => datastore.name === session.datastore),
      { name: session.datastore, type: 'NFS' },
    );
    // The host's view of the datastore (vcsim's local path) and the export are one folder.
    const listing = (await libnfs('nfs-ls', sessionFileUrl(session, ''))).toString();
    for (const name of [`${vm.name}.vmx`, `${vm.name}.vmdk`, `${vm.name}-flat.vmdk`, `${vm.name}.nvram`, 'vmware.log'])
      assert.match(listing, new RegExp(` ${name.replaceAll('.', '\\.')}\\n`));
    // The disk read over NFS, copied out with nfs-cp, is the point's disk.
    const copied = join(await tempDir(), 'over-nfs.raw');
    await libnfs('nfs-cp', sessionFileUrl(session, `${vm.name}-flat.vmdk`), copied);
    assert.match(qemuImg('compare', '-f', 'raw', '-F', 'raw', vm.raw, copied), /identical/);
    // The guest writes into its disk; the backup does not change.
    const volume = engine.instant.volumeOf(session.id);
    assert.ok(volume);
    const flat = volume.lookup(VM_FOLDER_ID, `${vm.name}-flat.vmdk`);
    await volume.write(flat, 2 * MIB + 100, randomBytes(150_000));
    const after = (await api.invoke('instant.list', {})).find((listed) => listed.id === session.id) as InstantSession;
    assert.ok(after.cacheBytes > 0 && after.bytesRead >= DISK_MIB * MIB && after.firstReadSeconds !== null);
    assert.ok((await readdir(session.writesTo)).length > 0, 'the write cache holds the guest writes');
    assert.equal(
      (await runJob(engine, await engine.verifies.start(vm.name, 'latest', 'test'))).state,
      'succeeded',
      'every block of the backup still hashes right',
    );

    const stop = await runJob(engine, (await api.invoke('instant.stop', { sessionId: session.id })).job);
    assert.equal(stop.state, 'succeeded', stop.error ?? '');
    assert.deepEqual(
      stop.steps.map((step) => step.state),
      ['done', 'done', 'done', 'done'],
    );
    const stopped = (await api.invoke('instant.list', {})).find((listed) => listed.id === session.id) as InstantSession;
    assert.equal(stopped.state, 'stopped');
    assert.ok(!(await hostView()).vms.some((found) => found.name === vm.name), 'the VM is unregistered');
    await gone(stopped);
    await assert.rejects(libnfs('nfs-ls', session.nfsUrl), 'the export is closed');
  },
);

test(
  'quick migration: the copy is written to production while the VM runs, the guest writes are applied at switchover, the session ends',
  { skip: missing ?? false },
  async () => {
    const production = (vc as NonNullable<typeof vc>).datastores.LocalDS_1 as string;
    await api.invoke('proxies.add', { name: 'san-ir', host: 'vc', transports: ['san'], datastorePaths: { LocalDS_1: production } });
    const session = await startSession(vm.name, { name: 'web-ir' });
    const volume = engine.instant.volumeOf(session.id);
    assert.ok(volume);
    const flat = volume.lookup(VM_FOLDER_ID, `${vm.name}-flat.vmdk`);
    const patches = [
      { at: 0, bytes: randomBytes(70_000) },
      { at: 5 * MIB - 7, bytes: randomBytes(300_000) },
    ];
    for (const patch of patches) await volume.write(flat, patch.at, patch.bytes);
    const expected = await readFile(vm.raw);
    for (const patch of patches) patch.bytes.copy(expected, patch.at);

    const migrate = await runJob(
      engine,
      (await api.invoke('instant.migrate', { sessionId: session.id, datastore: 'LocalDS_1', transport: 'san' })).job,
    );
    assert.equal(migrate.state, 'succeeded', migrate.error ?? '');
    const copy = String(migrate.result?.copy);
    const migrated = await readFile(join(production, copy, `${copy}-flat.vmdk`));
    assert.ok(migrated.equals(expected), 'the production disk is the point plus what the guest wrote');
    const view = await hostView();
    assert.deepEqual(
      view.vms.find((found) => found.name === 'web-ir')?.power,
      'poweredOn',
      "the production copy runs under the session VM's name",
    );
    assert.match(view.vms.find((found) => found.name === 'web-ir')?.path ?? '', /^\[LocalDS_1\] /);
    const ended = (await api.invoke('instant.list', {})).find((listed) => listed.id === session.id) as InstantSession;
    assert.equal(ended.state, 'migrated');
    await gone(ended);
  },
);

test(
  'mass instant recovery: ten sessions started at once, each with its time to power-on and to first NFS read',
  { skip: missing ?? false },
  async () => {
    const started = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        api.invoke('instant.start', {
          vm: (vms[index % vms.length] as (typeof vms)[number]).name,
          name: `mass-${index}`,
          host: 'vc',
          listen: '127.0.0.1:0',
        }),
      ),
    );
    const jobs = await Promise.all(started.map(({ job }) => runJob(engine, job)));
    assert.deepEqual(
      jobs.map((job) => job.state),
      Array(10).fill('succeeded'),
      jobs.map((job) => job.error).join('; '),
    );
    const sessions = (await api.invoke('instant.list', {})).filter((session) => session.name.startsWith('mass-'));
    // Each guest's first read, as a host would make it once the VM boots.
    await Promise.all(sessions.map((session) => libnfs('nfs-cat', sessionFileUrl(session, `${session.vmName}-flat.vmdk`))));
    const measured = (await api.invoke('instant.list', {})).filter((session) => session.name.startsWith('mass-'));
    assert.equal(measured.length, 10);
    const poweredOn = (await hostView()).vms.filter((found) => found.name.startsWith('mass-') && found.power === 'poweredOn');
    assert.equal(poweredOn.length, 10);
    for (const session of measured) assert.ok(session.poweredOnSeconds !== null && session.firstReadSeconds !== null);
    console.log(
      measured
        .map(
          (session) =>
            `${session.name} (${session.vmName}): powered on ${session.poweredOnSeconds?.toFixed(2)} s, first NFS read ${session.firstReadSeconds?.toFixed(2)} s`,
        )
        .join('\n'),
    );
    const stops = await Promise.all(
      measured.map(async (session) => runJob(engine, (await api.invoke('instant.stop', { sessionId: session.id })).job)),
    );
    assert.deepEqual(
      stops.map((job) => job.state),
      Array(10).fill('succeeded'),
    );
    for (const session of (await api.invoke('instant.list', {})).filter((listed) => listed.name.startsWith('mass-'))) await gone(session);
  },
);

test('instant recovery refuses bad input with one clear error and leaves nothing behind', { skip: missing ?? false }, async () => {
  await assert.rejects(api.invoke('instant.start', { vm: 'no-such-vm', host: 'vc' }), { code: 'not-found', message: /no VM "no-such-vm"/ });
  await assert.rejects(api.invoke('instant.start', { vm: vm.name, host: 'nowhere' }), { code: 'not-found', message: /no host "nowhere"/ });
  await assert.rejects(api.invoke('instant.start', { vm: vm.name, host: 'vc', listen: '0.0.0.0:2049' }), {
    code: 'bad-request',
    message: /an address the host can reach/,
  });
  await assert.rejects(api.invoke('instant.start', { vm: vm.name, host: 'vc', listen: 'nowhere' }), { code: 'bad-request' });
  await assert.rejects(api.invoke('instant.start', { vm: vm.name, host: 'vc', redirectTo: join(lab.dir, 'no-such-folder') }), {
    code: 'not-found',
    message: /redirect folder/,
  });
  await assert.rejects(api.invoke('instant.stop', { sessionId: 'feedbeef-0000' }), { code: 'not-found' });
  // A name already taken on the host: the start fails before anything is mounted.
  const { job, session } = await api.invoke('instant.start', { vm: vm.name, name: 'DC0_H0_VM0', host: 'vc', listen: '127.0.0.1:0' });
  const failed = await runJob(engine, job);
  assert.equal(failed.state, 'failed');
  assert.match(failed.error ?? '', /a VM named "DC0_H0_VM0" already exists/);
  const record = (await api.invoke('instant.list', {})).find((listed) => listed.id === session.id) as InstantSession;
  assert.equal(record.state, 'failed');
  await gone(record);
  // Writes redirected to a production folder: the cache lives there, not in the home.
  const redirect = await tempDir();
  const redirected = await startSession(vm.name, { name: 'redirected', redirectTo: redirect });
  assert.ok(redirected.redirected && redirected.writesTo.startsWith(redirect));
  const volume = engine.instant.volumeOf(redirected.id);
  assert.ok(volume);
  await volume.write(volume.lookup(VM_FOLDER_ID, `${vm.name}-flat.vmdk`), 0, randomBytes(4096));
  assert.ok((await readdir(redirected.writesTo)).length > 0);
  // A stop of a session that is not running is refused.
  await runJob(engine, (await api.invoke('instant.stop', { sessionId: redirected.id })).job);
  await assert.rejects(api.invoke('instant.stop', { sessionId: redirected.id }), { code: 'conflict', message: /only a running session/ });
  await assert.rejects(api.invoke('instant.migrate', { sessionId: redirected.id, datastore: 'LocalDS_1' }), { code: 'conflict' });
});

test(
  'a migration cancelled midway leaves the session running from the backup and no copy behind; a migrating session cannot be stopped',
  { skip: missing ?? false },
  async () => {
    const production = (vc as NonNullable<typeof vc>).datastores.LocalDS_1 as string;
    const session = await startSession(vm.name, { name: 'cancel-ir' });
    const { job } = await api.invoke('instant.migrate', { sessionId: session.id, datastore: 'LocalDS_1', transport: 'san' });
    await new Promise<void>((resolve) => {
      const off = api.on('job.updated', (update) => {
        if (update.id === job.id && update.currentStep === 'copy-disks') {
          off();
          resolve();
        }
      });
    });
    await assert.rejects(api.invoke('instant.stop', { sessionId: session.id }), { code: 'conflict', message: /is migrating/ });
    await api.invoke('jobs.cancel', { jobId: job.id });
    const cancelled = await runJob(engine, job);
    assert.equal(cancelled.state, 'cancelled');
    const after = (await api.invoke('instant.list', {})).find((listed) => listed.id === session.id) as InstantSession;
    assert.equal(after.state, 'running');
    assert.match(after.note ?? '', /migration to LocalDS_1 failed/);
    const view = await hostView();
    assert.equal(view.vms.find((found) => found.name === 'cancel-ir')?.power, 'poweredOn', 'the VM still runs from the backup');
    assert.ok(!view.vms.some((found) => found.name.startsWith('cancel-ir-migrating')), 'no half-made copy on the host');
    assert.ok(
      !(await readdir(production)).some((name) => name.startsWith('cancel-ir-migrating')),
      'no copy files on the production datastore',
    );
    assert.equal((await runJob(engine, (await api.invoke('instant.stop', { sessionId: session.id })).job)).state, 'succeeded');
  },
);

const small = await smallTmpfs('1m');

test(
  'a full write cache answers the guest NFS3ERR_NOSPC over the wire; the session and the backup stay as they were',
  { skip: missing ?? small.skip },
  async () => {
    const session = await startSession(vm.name, { name: 'full-cache', redirectTo: small.path as string });
    const url = new URL(session.nfsUrl);
    const port = Number(url.searchParams.get('nfsport'));
    const disk = await handleOf(port, url.pathname, [vm.name, `${vm.name}-flat.vmdk`]);
    assert.equal(await nfsWrite(port, disk, 0, randomBytes(4096)), NfsStatus.ok);
    const statuses: number[] = [];
    for (let index = 0; index < 6 && !statuses.includes(NfsStatus.nospc); index++)
      statuses.push(await nfsWrite(port, disk, MIB + index * 512 * 1024, randomBytes(512 * 1024)));
    assert.ok(statuses.includes(NfsStatus.nospc), `a write was refused for space: ${statuses.join(', ')}`);
    const listed = (await api.invoke('instant.list', {})).find((found) => found.id === session.id) as InstantSession;
    assert.equal(listed.state, 'running', 'the session goes on; the guest sees a full disk');
    assert.equal((await runJob(engine, await engine.verifies.start(vm.name, 'latest', 'test'))).state, 'succeeded');
    assert.equal((await runJob(engine, (await api.invoke('instant.stop', { sessionId: session.id })).job)).state, 'succeeded');
    assert.deepEqual(await readdir(small.path as string), [], 'the redirected cache is deleted');
  },
);

test(
  'instant recovery of an encrypted point: refused without its password before a session exists; with it, the disk over NFS is the point',
  { skip: missing ?? false },
  async () => {
    const folder = join(lab.dir, 'sealed-vm');
    const raw = join(lab.dir, 'sealed.raw');
    await mkdir(folder);
    await writeMixedRaw(raw, DISK_MIB, 9);
    await makeVmFolder(folder, 'sealed', raw, 'monolithicFlat');
    assert.equal(
      (
        await runJob(
          engine,
          (await api.invoke('backup.start', { source: { kind: 'local', path: folder }, encrypt: true, password: 'instant password' })).job,
        )
      ).state,
      'succeeded',
    );
    const before = (await api.invoke('instant.list', {})).length;
    await assert.rejects(api.invoke('instant.start', { vm: 'sealed', host: 'vc', listen: '127.0.0.1:0' }), {
      code: 'unauthorized',
      message: /is encrypted/,
    });
    await assert.rejects(api.invoke('instant.start', { vm: 'sealed', host: 'vc', listen: '127.0.0.1:0', password: 'wrong password' }), {
      code: 'unauthorized',
      message: /wrong password/,
    });
    assert.equal((await api.invoke('instant.list', {})).length, before, 'no session was recorded');
    const session = await startSession('sealed', { password: 'instant password' });
    const copied = join(await tempDir(), 'sealed-over-nfs.raw');
    await libnfs('nfs-cp', sessionFileUrl(session, 'sealed-flat.vmdk'), copied);
    assert.match(qemuImg('compare', '-f', 'raw', '-F', 'raw', raw, copied), /identical/);
    const { job } = await api.invoke('instant.stop', { sessionId: session.id });
    assert.equal((await runJob(engine, job)).state, 'succeeded');
    for (const started of (await api.invoke('jobs.list', {})).filter(
      (listed) => listed.kind === 'instant-start' && listed.vmName === 'sealed',
    )) {
      assert.ok(
        !JSON.stringify(engine.catalog.jobParams(started.id)).includes('instant password'),
        'the password is not in the job record',
      );
    }
  },
);
