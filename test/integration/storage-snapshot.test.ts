// Restores from storage snapshots on the file-backed array, its folder on a loop-mounted XFS so
// snapshots and clones share blocks: the snapshot is never used, only a clone; the VMs of one
// request share one clone, two operations get two; the clone is always removed, also when the
// engine is killed mid-restore; restored disks are the snapshot's (qemu-img compare).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, open, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { FileArray } from '../../electron/drivers/array/file-array.ts';
import { VsphereClient } from '../../electron/drivers/vsphere/vsphere-client.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { createLab } from '../../electron/lab/create-lab.ts';
import type { StorageSnapshotPoint } from '../../shared/domain.ts';
import { makeVmFolder, openEngine, qemuImg, reflinkFolder, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
const xfs = await reflinkFolder(1024);
const dir = await tempDir();

test('an array refuses a file system that cannot share blocks, and leaves its folder empty', async () => {
  const engine = await openEngine(join(dir, 'plain-home'));
  const api = inProcessApi(engine);
  const root = join(dir, 'on-ext4');
  await assert.rejects(api.invoke('arrays.create', { name: 'plain', path: root }), {
    code: 'unavailable',
    message: /cannot share blocks \(reflink\)/,
  });
  assert.deepEqual(await readdir(root), []);
  await assert.rejects(api.invoke('arrays.show', { name: 'plain' }), { code: 'not-found' });
});

test(
  "storage snapshots: one clone for the VMs of a request, one per operation, removed every time; disks identical to the snapshot's",
  { skip: xfs.skip },
  async () => {
    const engine = await openEngine(join(dir, 'home'));
    const api = inProcessApi(engine);
    const { volume } = await api.invoke('arrays.create', { name: 'array1', path: join(xfs.path as string, 'array1'), timeScale: 0.001 });
    for (const [name, subformat] of [
      ['web', 'monolithicFlat'],
      ['db', 'monolithicSparse'],
    ] as const) {
      await mkdir(join(volume.folder, name));
      await writeMixedRaw(join(dir, `${name}.raw`), 8, name.length);
      await makeVmFolder(join(volume.folder, name), name, join(dir, `${name}.raw`), subformat);
    }
    const snapshot = await api.invoke('arrays.snapshot', { volume: 'vol1' });
    assert.deepEqual(snapshot.vms.map((vm) => vm.name).sort(), ['db', 'web']);
    assert.deepEqual(
      (await api.invoke('snapshots.list', { vm: 'web' })).map((point) => point.id),
      [snapshot.id],
      'the snapshot is a restore point of web',
    );
    // The live volume changes after the snapshot; the snapshot does not (copy-on-write).
    const live = await open(join(volume.folder, 'web', 'web-flat.vmdk'), 'r+');
    await live.write(randomBytes(MIB), 0, MIB, 2 * MIB);
    await live.close();
    const array = FileArray.open('array1', join(xfs.path as string, 'array1'));
    const snapshotFolder = join(xfs.path as string, 'array1', 'snapshots', snapshot.id);
    assert.match(qemuImg('compare', '-f', 'raw', join(dir, 'web.raw'), join(snapshotFolder, 'web', 'web.vmdk')), /identical/);

    // Two VMs, one request: one clone, presented to this machine over iSCSI, then gone.
    const target = join(dir, 'restored');
    const both = await runJob(
      engine,
      (await api.invoke('restore.fromSnapshot', { vms: ['web', 'db'], snapshot: snapshot.id, target: { kind: 'local', path: target } }))
        .job,
    );
    assert.equal(both.state, 'succeeded', both.error ?? '');
    assert.deepEqual(
      both.steps.map((step) => step.state),
      ['done', 'done', 'done', 'done', 'done'],
    );
    let summary = await array.summary();
    assert.equal(summary.clonesCreated, 1, 'exactly one clone for both VMs');
    assert.deepEqual(summary.clones, [], 'the clone is deleted');
    assert.deepEqual(summary.hosts, [{ name: hostname(), staticTargets: ['127.0.0.1:3260'] }]);
    const log = (await api.invoke('jobs.get', { jobId: both.id })).events.map((event) => event.message).join('\n');
    assert.match(log, /added to the allowed servers[\s\S]*HBA rescan[\s\S]*resignatured[\s\S]*unpresented .* and deleted/);
    for (const name of ['web', 'db'])
      assert.match(qemuImg('compare', join(snapshotFolder, name, `${name}.vmdk`), join(target, name, `${name}.vmdk`)), /identical/);

    // Two operations on one VM at once: a clone each.
    const jobs = await Promise.all(
      ['op-a', 'op-b'].map(
        async (folder) =>
          (
            await api.invoke('restore.fromSnapshot', {
              vms: ['web'],
              snapshot: snapshot.id,
              target: { kind: 'local', path: join(dir, folder) },
            })
          ).job,
      ),
    );
    const ended = await Promise.all(jobs.map((job) => runJob(engine, job)));
    assert.deepEqual(
      ended.map((job) => job.state),
      ['succeeded', 'succeeded'],
      ended.map((job) => job.error).join('; '),
    );
    assert.notEqual(ended[0]?.result?.clone, ended[1]?.result?.clone);
    summary = await array.summary();
    assert.equal(summary.clonesCreated, 3);
    assert.deepEqual(summary.clones, []);
    assert.match(qemuImg('compare', join(snapshotFolder, 'web', 'web.vmdk'), join(dir, 'op-a', 'web.vmdk')), /identical/);

    // Faults: each a clear error, no clone left, no target folder.
    const failing = async (
      setup: () => Promise<unknown>,
      message: RegExp,
      undo: () => Promise<unknown>,
      from = snapshot.id,
    ): Promise<void> => {
      await setup();
      const path = join(dir, `fault-${Math.random().toString(36).slice(2)}`);
      const job = await runJob(
        engine,
        (await api.invoke('restore.fromSnapshot', { vms: ['web'], snapshot: from, target: { kind: 'local', path } })).job,
      );
      await undo();
      assert.equal(job.state, 'failed', `expected a failure matching ${message}`);
      assert.match(job.error ?? '', message);
      assert.deepEqual((await array.summary()).clones, [], `no clone left after: ${job.error}`);
      await assert.rejects(access(path), `no target folder after: ${job.error}`);
    };
    await failing(
      () => array.configure({ refusedHosts: [hostname()] }),
      /does not serve host/,
      () => array.configure({ refusedHosts: [] }),
    );
    await failing(
      () => array.configure({ faults: { rescanFindsNothing: true } }),
      /rescan .* found no new device/,
      () => array.configure({ faults: {} }),
    );
    await failing(
      () => array.configure({ faults: { resignatureFails: true } }),
      /resignature .* failed/,
      () => array.configure({ faults: {} }),
    );
    await failing(
      () => array.configure({ cloneQuota: 0 }),
      /allows 0 clones/,
      () => array.configure({ cloneQuota: 16 }),
    );
    await assert.rejects(
      api.invoke('restore.fromSnapshot', { vms: ['mail'], snapshot: snapshot.id, target: { kind: 'local', path: join(dir, 'x') } }),
      { code: 'not-found', message: /holds no VM mail/ },
    );
    await assert.rejects(
      api.invoke('restore.fromSnapshot', { vms: ['web'], snapshot: 'snap-nothere', target: { kind: 'local', path: join(dir, 'x') } }),
      { code: 'not-found' },
    );
    // The snapshot deleted on the array behind Lifeboat's back.
    const second = await api.invoke('arrays.snapshot', { volume: volume.folder });
    await failing(
      () => array.deleteSnapshot(second.id),
      /no longer exists/,
      async () => undefined,
      second.id,
    );
  },
);

test('item-level restore from a clone: picked files of a lab VM on a snapshot, the clone removed after', { skip: xfs.skip }, async () => {
  const engine = await openEngine(join(dir, 'items-home'));
  const api = inProcessApi(engine);
  await createLab(inProcessApi(engine), engine.paths.lab, { vms: 1, points: 1, diskMib: 16 });
  const { volume } = await api.invoke('arrays.create', {
    name: 'items',
    path: join(xfs.path as string, 'items'),
    protocol: 'nfs',
    timeScale: 0.001,
  });
  await run('cp', ['-r', join(engine.paths.lab, 'lab-web-01'), join(volume.folder, 'lab-web-01')]);
  const snapshot = await api.invoke('arrays.snapshot', { volume: 'vol1' });
  const out = join(dir, 'items-out');
  const job = await runJob(
    engine,
    (
      await api.invoke('files.restoreFromSnapshot', {
        vm: 'lab-web-01',
        snapshot: snapshot.id,
        paths: ['/disk0/part1/home/operator', '/disk0/part2/home/operator/blob.bin'],
        target: { kind: 'local', path: out },
      })
    ).job,
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.deepEqual(
    job.steps.map((step) => step.name),
    ['initialize', 'clone-snapshot', 'present-clone', 'copy-items', 'remove-clone'],
  );
  // The same items restored from the backup of the same VM are the reference.
  const reference = join(dir, 'items-reference');
  assert.equal(
    (
      await runJob(
        engine,
        (
          await api.invoke('files.restore', {
            vm: 'lab-web-01',
            point: 'latest',
            paths: ['/disk0/part1/home/operator', '/disk0/part2/home/operator/blob.bin'],
            target: { kind: 'local', path: reference },
          })
        ).job,
      )
    ).state,
    'succeeded',
  );
  const { stdout } = await run('diff', ['-r', out, reference]).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
  assert.equal(stdout, '', "the items from the clone are the backup's items");
  assert.ok((await readdir(out)).length > 0);
  const array = await api.invoke('arrays.show', { name: 'items' });
  assert.deepEqual([array.clones.length, array.clonesCreated], [0, 1]);
  assert.deepEqual(array.hosts, [], 'NFS needs no static targets');
});

test(
  'vSphere from a storage snapshot: Instant Recovery runs the VM from a clone the array exports over NFS, a whole VM is restored from a clone; each clone removed',
  { skip: xfs.skip || (vcsimUnavailable() ?? false) },
  async () => {
    const engine = await openEngine(join(dir, 'ir-home'));
    const api = inProcessApi(engine);
    const root = join(xfs.path as string, 'nfs-array');
    const { volume } = await api.invoke('arrays.create', { name: 'nfsarray', path: root, protocol: 'nfs', timeScale: 0.001 });
    await mkdir(join(volume.folder, 'app'));
    await writeMixedRaw(join(dir, 'ir-app.raw'), 8, 5);
    await makeVmFolder(join(volume.folder, 'app'), 'app', join(dir, 'ir-app.raw'), 'monolithicFlat');
    const snapshot = await api.invoke('arrays.snapshot', { volume: 'vol1' });
    // The host mounts the clone's share by name: vcsim resolves it in the array's clones folder.
    const vc = await startVcsim({ cwd: join(root, 'clones') });
    await engine.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'test');
    const { job, session } = await api.invoke('instant.start', { vm: 'app', host: 'vc', fromSnapshot: snapshot.id, name: 'app-from-snap' });
    const started = await runJob(engine, job);
    assert.equal(started.state, 'succeeded', started.error ?? '');
    const running = (await api.invoke('instant.list', {})).find((listed) => listed.id === session.id);
    assert.equal(running?.state, 'running');
    assert.match(running?.writesTo ?? '', /^clone clone-[0-9a-f]{8} on array nfsarray$/);
    const array = FileArray.open('nfsarray', root);
    const [clone] = (await array.summary()).clones;
    assert.ok(clone, 'one clone, made for the session');
    assert.equal(running?.datastore, clone.id);
    assert.deepEqual(
      clone.presentations.map((entry) => [entry.protocol, entry.target]),
      [['nfs', `127.0.0.1:/clones/${clone.id}`]],
    );
    const client = await VsphereClient.connect({ url: new URL(vc.url), insecure: true }, vc.user, vc.password);
    try {
      const inventory = await client.inventory();
      const vm = inventory.vms.find((found) => found.name === 'app-from-snap');
      assert.equal(vm?.vmPathName, `[${clone.id}] app/app.vmx`);
      assert.equal(await client.powerState(vm.ref), 'poweredOn');
      assert.equal(inventory.datastores.find((datastore) => datastore.name === clone.id)?.type, 'NFS');
      await assert.rejects(api.invoke('instant.migrate', { sessionId: session.id, datastore: 'LocalDS_0' }), {
        code: 'bad-request',
        message: /runs from clone/,
      });
      const stop = await runJob(engine, (await api.invoke('instant.stop', { sessionId: session.id })).job);
      assert.equal(stop.state, 'succeeded', stop.error ?? '');
      const after = await client.inventory();
      assert.ok(!after.vms.some((found) => found.name === 'app-from-snap'), 'the VM is unregistered');
      assert.ok(!after.datastores.some((datastore) => datastore.name === clone.id), 'the datastore is unmounted');
      assert.deepEqual((await array.summary()).clones, [], 'the clone is deleted');
      assert.match(
        qemuImg('compare', '-f', 'raw', join(dir, 'ir-app.raw'), join(root, 'snapshots', snapshot.id, 'app', 'app.vmdk')),
        /identical/,
        'the snapshot is as it was',
      );
      // A whole VM from a clone to vSphere (over NBD here): a new VM whose disk is the snapshot's.
      const toVsphere = await runJob(
        engine,
        (
          await api.invoke('restore.fromSnapshot', {
            vms: ['app'],
            snapshot: snapshot.id,
            newName: 'app-restored',
            target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_0' },
          })
        ).job,
      );
      assert.equal(toVsphere.state, 'succeeded', toVsphere.error ?? '');
      assert.deepEqual(
        toVsphere.steps.map((step) => step.name),
        ['initialize', 'clone-snapshot', 'present-clone', 'restore-vm', 'remove-clone'],
      );
      assert.match(
        qemuImg(
          'compare',
          join(root, 'snapshots', snapshot.id, 'app', 'app.vmdk'),
          join(vc.datastores.LocalDS_0 as string, 'app-restored', 'app-restored.vmdk'),
        ),
        /identical/,
      );
      assert.ok((await client.inventory()).vms.some((found) => found.name === 'app-restored'));
      assert.deepEqual((await array.summary()).clones, []);
      await assert.rejects(
        api.invoke('restore.fromSnapshot', {
          vms: ['app'],
          snapshot: snapshot.id,
          target: { kind: 'vsphere', host: 'vc', original: true, confirmOverwrite: true },
        }),
        { code: 'bad-request', message: /new VM/ },
      );
      // What the next engine start does with a session a killed engine left: it goes on (the
      // array serves the clone), and a stop then takes it all away.
      const { job: leftJob, session: leftSession } = await api.invoke('instant.start', {
        vm: 'app',
        host: 'vc',
        fromSnapshot: snapshot.id,
        name: 'app-left',
      });
      const left = await runJob(engine, leftJob);
      assert.equal(left.state, 'succeeded', left.error ?? '');
      assert.equal((await array.summary()).clones.length, 1);
      engine.instant.recoverAfterRestart({ ownOnly: false });
      assert.equal(await engine.instant.recovered, 1);
      assert.equal((await api.invoke('instant.list', {})).find((listed) => listed.id === leftSession.id)?.state, 'running');
      assert.equal((await array.summary()).clones.length, 1);
      assert.equal((await runJob(engine, (await api.invoke('instant.stop', { sessionId: leftSession.id })).job)).state, 'succeeded');
      assert.deepEqual((await array.summary()).clones, []);
      const cleaned = await client.inventory();
      assert.ok(
        !cleaned.vms.some((found) => found.name === 'app-left') &&
          !cleaned.datastores.some((datastore) => datastore.name.startsWith('clone-')),
      );
    } finally {
      await client.logout();
    }
    // An iSCSI array's clone cannot be presented to a host through vSphere yet: said up front.
    const iscsi = await api.invoke('arrays.create', {
      name: 'iscsiarray',
      path: join(xfs.path as string, 'iscsi-array'),
      timeScale: 0.001,
    });
    await run('cp', ['-r', join(volume.folder, 'app'), join(iscsi.volume.folder, 'app')]);
    const iscsiSnapshot = await api.invoke('arrays.snapshot', { volume: iscsi.volume.folder });
    await assert.rejects(api.invoke('instant.start', { vm: 'app', host: 'vc', fromSnapshot: iscsiSnapshot.id }), {
      code: 'bad-request',
      message: /needs an NFS array/,
    });
    assert.deepEqual(
      (await FileArray.open('iscsiarray', join(xfs.path as string, 'iscsi-array')).summary()).clonesCreated,
      0,
      'refused before any clone',
    );
  },
);

test('an engine killed mid-restore leaves a clone the next start removes', { skip: xfs.skip }, async () => {
  const home = join(dir, 'crash-home');
  const lifeboat = (...args: string[]) => run(process.execPath, [cli, '--home', home, '--json', ...args], { timeout: 120_000 });
  const created = JSON.parse(
    (await lifeboat('array', 'create', 'slow', '--path', join(xfs.path as string, 'slow'), '--protocol', 'fc')).stdout,
  ) as { volume: { folder: string } };
  await mkdir(join(created.volume.folder, 'app'));
  await writeMixedRaw(join(dir, 'app.raw'), 8, 9);
  await makeVmFolder(join(created.volume.folder, 'app'), 'app', join(dir, 'app.raw'), 'monolithicFlat');
  const snapshot = JSON.parse((await lifeboat('array', 'snapshot', 'vol1')).stdout) as StorageSnapshotPoint;
  // The engine kills itself right after the array made the clone: a crash at a known moment, not a race with a timer.
  const server = spawn(process.execPath, [cli, '--home', home, 'serve', '--port', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LIFEBOAT_KILL_AT: 'array-clone-made' },
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => server.once('exit', (_code, signal) => resolve(signal)));
  const array = FileArray.open('slow', join(xfs.path as string, 'slow'));
  try {
    await new Promise<void>((resolve) => server.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('{') && resolve()));
    await lifeboat('restore', 'vm', 'app', '--from-snapshot', snapshot.id, '--target', `local:${join(dir, 'crash-target')}`, '--detach');
    assert.equal(await exited, 'SIGKILL', 'the engine died right after making the clone');
    assert.equal((await array.summary()).clones.length, 1, 'the restore made its clone');
  } finally {
    server.kill('SIGKILL');
    await exited;
  }
  const engine = await openServedEngine({ home, workerThreads: 1 });
  try {
    assert.ok((await engine.janitor) >= 1);
    assert.deepEqual((await array.summary()).clones, [], 'the janitor removed the clone');
    assert.equal(engine.catalog.listJobs().find((job) => job.kind === 'restore-from-snapshot')?.state, 'interrupted');
  } finally {
    await engine.close();
  }
});
