// Entire VM restore to vSphere against govmomi's simulator: the host is added with its password
// in the secret store, the VM is created, snapshotted and registered, its disks written over
// NBD land on the datastore identical to the restore point; bad input leaves no VM behind.
import assert from 'node:assert/strict';
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { Engine } from '../../electron/engine/engine.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { asOwner } from '../helpers/owner.ts';
import { Peer } from '../../electron/auth/peer.ts';
import { makeVmFolder, openEngine, qemuImg, runJob, tempDir, until, writeMixedRaw } from '../helpers/env.ts';
import { addSimulatorHost, startVcsim, vcsimUnavailable, type Vcsim } from '../helpers/vcsim.ts';
import { startFaultProxy, type FaultRule } from '../helpers/fault-proxy.ts';

const unavailable = vcsimUnavailable();

async function setUp(): Promise<{ dir: string; engine: Engine; vc: Vcsim }> {
  const dir = await tempDir();
  const vc = await startVcsim();
  const engine = await openEngine(join(dir, 'home'));
  const source = join(dir, 'source');
  await mkdir(source);
  await writeMixedRaw(join(dir, 'disk.raw'), 12, 2);
  await makeVmFolder(source, 'gamma', join(dir, 'disk.raw'), 'monolithicSparse');
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  return { dir, engine, vc };
}

async function vmNames(engine: Engine): Promise<string[]> {
  return (await engine.hosts.inventory('vc')).vms;
}

/** Host "vc" added through the fault proxy in front of the simulator, playing `rules`. */
async function addThroughFaultProxy(engine: Engine, vc: Vcsim, rules: FaultRule[]): Promise<{ url: string; injected: string[] }> {
  const injector = await startFaultProxy(vc.url, rules);
  await dispatch(engine, asOwner(), 'hosts.add', {
    kind: 'vsphere',
    name: 'vc',
    url: injector.url,
    user: vc.user,
    password: vc.password,
    insecure: false,
  });
  return injector;
}

/** A failed or cancelled restore of VM `name` left no VM and no folder on any datastore. */
async function assertNothingLeft(engine: Engine, vc: Vcsim, vmsBefore: string[], name: string): Promise<void> {
  assert.deepEqual(await vmNames(engine), vmsBefore);
  for (const folder of Object.values(vc.datastores))
    assert.ok(!(await readdir(folder)).includes(name), `no files of the half-made VM in ${folder}`);
}

test('vSphere: add a host, restore a VM over NBD, bit-identical on the datastore', { skip: unavailable ?? false }, async () => {
  const { dir, engine, vc } = await setUp();
  await assert.rejects(
    dispatch(engine, asOwner(), 'hosts.add', {
      kind: 'vsphere',
      name: 'vc',
      url: vc.url,
      user: vc.user,
      password: 'wrong',
      insecure: true,
    }),
    { code: 'unauthorized', message: /wrong user name or password/ },
  );
  await assert.rejects(
    dispatch(engine, asOwner(), 'hosts.add', {
      kind: 'vsphere',
      name: 'vc',
      url: vc.url,
      user: vc.user,
      password: vc.password,
      insecure: false,
    }),
    { code: 'unavailable', message: /certificate/ },
  );
  assert.deepEqual(engine.catalog.listHosts(), [], 'a refused host is not stored');
  await addSimulatorHost(engine, vc);
  const secretFiles = (await readdir(join(dir, 'home', 'secrets'))).filter((name) => name.endsWith('.secret'));
  assert.equal(secretFiles.length, 1);

  const before = await vmNames(engine);
  const job = await runJob(
    engine,
    await engine.restores.start(
      { vm: 'gamma', point: 'latest', newName: 'gamma-restored', target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_1' } },
      'test',
    ),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.deepEqual(
    job.steps.map((step) => `${step.name}:${step.state}`),
    [
      'initialize:done',
      'restore-configuration:done',
      'create-snapshot:done',
      'transfer-disks:done',
      'commit-snapshot:done',
      'finalize:done',
    ],
  );
  assert.deepEqual(
    (await vmNames(engine)).filter((name) => !before.includes(name)),
    ['gamma-restored'],
  );
  const restored = join(vc.datastores.LocalDS_1 as string, 'gamma-restored', 'gamma-restored.vmdk');
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', join(dir, 'disk.raw'), restored), /identical/);
  assert.ok(engine.catalog.jobEvents(job.id).some((event) => /transport: network \(NBD/.test(event.message)));

  const clash = await runJob(
    engine,
    await engine.restores.start(
      { vm: 'gamma', point: 'latest', newName: 'gamma-restored', target: { kind: 'vsphere', host: 'vc' } },
      'test',
    ),
  );
  assert.equal(clash.state, 'failed');
  assert.match(clash.error ?? '', /a VM named "gamma-restored" already exists/);
  const missing = await runJob(
    engine,
    await engine.restores.start(
      { vm: 'gamma', point: 'latest', newName: 'other', target: { kind: 'vsphere', host: 'vc', datastore: 'NoSuchDS' } },
      'test',
    ),
  );
  assert.equal(missing.state, 'failed');
  assert.match(missing.error ?? '', /datastore "NoSuchDS" does not exist/);
  const san = await runJob(
    engine,
    await engine.restores.start(
      { vm: 'gamma', point: 'latest', newName: 'other', target: { kind: 'vsphere', host: 'vc', transport: 'san', diskFormat: 'thick' } },
      'test',
    ),
  );
  assert.equal(san.state, 'failed');
  assert.match(san.error ?? '', /Direct SAN: no proxy offers Direct SAN/);
  await assert.rejects(engine.restores.start({ vm: 'gamma', point: 'latest', target: { kind: 'vsphere', host: 'nope' } }, 'test'), {
    code: 'not-found',
  });
  assert.deepEqual(
    (await vmNames(engine)).filter((name) => !before.includes(name)),
    ['gamma-restored'],
    'failed restores leave no VM',
  );
});

test('vSphere: a restore that fails after the VM exists removes the half-made VM', { skip: unavailable ?? false }, async () => {
  const { engine, vc } = await setUp();
  await addSimulatorHost(engine, vc);
  const before = await vmNames(engine);
  // Cancel as soon as the VM is registered: the disk transfer never completes.
  const job = await engine.restores.start(
    { vm: 'gamma', point: 'latest', newName: 'half', target: { kind: 'vsphere', host: 'vc' } },
    'test',
  );
  const off = engine.events.on('job.updated', (update) => {
    if (update.id === job.id && update.steps.find((step) => step.name === 'create-snapshot')?.state === 'running')
      engine.jobs.cancel(job.id);
  });
  const ended = await runJob(engine, job);
  off();
  assert.equal(ended.state, 'cancelled');
  await assertNothingLeft(engine, vc, before, 'half');
});

test(
  'vSphere: a corrupt block met while the disk streams over NBD fails the restore naming it, and leaves no VM',
  { skip: unavailable ?? false },
  async () => {
    const { engine, vc } = await setUp();
    await addSimulatorHost(engine, vc);
    const before = await vmNames(engine);
    // The last stored block: the upload is well under way when the stream meets it.
    const vmId = engine.lookup.resolveVm('gamma').id;
    const [point] = await engine.repository.listPoints(vmId);
    assert.ok(point);
    const handle = await open(join(engine.repository.pointFolder(point), 'data.lbd'), 'r+');
    const { size } = await handle.stat();
    await handle.write(Buffer.from('garbage!'), 0, 8, size - 64);
    await handle.close();
    const job = await runJob(
      engine,
      await engine.restores.start(
        { vm: 'gamma', point: 'latest', newName: 'torn', target: { kind: 'vsphere', host: 'vc', transport: 'nbd' } },
        'test',
      ),
    );
    assert.equal(job.state, 'failed');
    assert.match(job.error ?? '', /disk scsi0:0, offset \d+: corrupt block/);
    await assertNothingLeft(engine, vc, before, 'torn');
  },
);

test('vSphere: Direct SAN for thick disks and HotAdd through a proxy VM, chosen with reasons', { skip: unavailable ?? false }, async () => {
  const { dir, engine, vc } = await setUp();
  await addSimulatorHost(engine, vc);
  const lun = { LocalDS_1: vc.datastores.LocalDS_1 as string };
  await dispatch(engine, asOwner(), 'proxies.add', { name: 'san-proxy', host: 'vc', transports: ['san'], datastorePaths: lun });
  await assert.rejects(
    dispatch(engine, asOwner(), 'proxies.add', { name: 'bad', host: 'vc', transports: ['hotadd'], datastorePaths: lun }),
    { code: 'bad-request', message: /needs its proxy VM/ },
  );
  await dispatch(engine, asOwner(), 'proxies.add', {
    name: 'hot-proxy',
    host: 'vc',
    transports: ['hotadd', 'nbd'],
    proxyVm: 'DC0_H0_VM0',
    datastorePaths: lun,
  });
  const source = join(dir, 'disk.raw');
  const restore = async (name: string, target: Record<string, unknown>) =>
    runJob(
      engine,
      await engine.restores.start(
        {
          vm: 'gamma',
          point: 'latest',
          newName: name,
          target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_1', ...target } as never,
        },
        'test',
      ),
    );
  const log = (jobId: string) =>
    engine.catalog
      .jobEvents(jobId)
      .map((event) => event.message)
      .join('\n');

  const thinSan = await restore('thin-san', { transport: 'san', diskFormat: 'thin' });
  assert.equal(thinSan.state, 'failed');
  assert.match(thinSan.error ?? '', /Direct SAN writes only thick disks/);

  const san = await restore('by-san', { diskFormat: 'thick' });
  assert.equal(san.state, 'succeeded', san.error ?? '');
  assert.match(log(san.id), /transport: Direct SAN through proxy san-proxy \(chosen automatically\)/);
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', source, join(lun.LocalDS_1, 'by-san', 'by-san.vmdk')), /identical/);

  const proxyDisksBefore = await engine.hosts.connect('vc').then(async (client) => {
    const inventory = await client.inventory();
    const proxyVm = inventory.vms.find((vm) => vm.name === 'DC0_H0_VM0');
    assert.ok(proxyVm);
    return (await client.vmDisks(proxyVm.ref)).length;
  });
  const hot = await restore('by-hotadd', { diskFormat: 'thin' });
  assert.equal(hot.state, 'succeeded', hot.error ?? '');
  assert.match(log(hot.id), /transport passed over — Direct SAN: Direct SAN writes only thick disks/);
  assert.match(log(hot.id), /hot-added to proxy VM DC0_H0_VM0[\s\S]*detached from proxy VM DC0_H0_VM0/);
  assert.equal(hot.result?.transport, 'hotadd');
  assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', source, join(lun.LocalDS_1, 'by-hotadd', 'by-hotadd.vmdk')), /identical/);
  const client = await engine.hosts.connect('vc');
  const proxyVm = (await client.inventory()).vms.find((vm) => vm.name === 'DC0_H0_VM0');
  assert.equal(
    (await client.vmDisks(proxyVm?.ref ?? { type: '', value: '' })).length,
    proxyDisksBefore,
    'the proxy VM has no restored disk left attached',
  );
  await client.logout();
});

test('vSphere: a task or upload that fails half-way leaves no VM and no files behind', { skip: unavailable ?? false }, async () => {
  const { engine, vc } = await setUp();
  const rules: FaultRule[] = [];
  const injector = await addThroughFaultProxy(engine, vc, rules);
  const before = await vmNames(engine);
  const cases: [string, FaultRule, RegExp][] = [
    [
      'snap-fails',
      { method: 'CreateSnapshot_Task', fault: 'SystemError', message: 'injected: snapshot store unavailable' },
      /snapshot store unavailable/,
    ],
    ['upload-fails', { upload: true, status: 500 }, /upload of \[LocalDS_0\] upload-fails\/upload-fails-flat\.vmdk failed: HTTP 500/],
    // The host drops the connection part way through the disk: one clear error, and the upload
    // does not wait for ever on a socket that is gone.
    ['upload-drops', { upload: 'drop', afterBytes: 256 * 1024 }, /cannot reach vSphere at http:\/\/127\.0\.0\.1:\d+: (ECONNRESET|EPIPE)/],
    [
      'commit-fails',
      { method: 'RemoveSnapshot_Task', fault: 'SystemError', message: 'injected: consolidation failed' },
      /consolidation failed/,
    ],
  ];
  for (const [name, rule, expected] of cases) {
    rules.splice(0, rules.length, rule);
    const job = await runJob(
      engine,
      await engine.restores.start(
        { vm: 'gamma', point: 'latest', newName: name, target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_0' } },
        'test',
      ),
    );
    assert.equal(job.state, 'failed', name);
    assert.match(job.error ?? '', expected);
    rules.splice(0, rules.length);
    assert.deepEqual(await vmNames(engine), before, `${name}: the half-made VM is gone`);
    assert.ok(!(await readdir(vc.datastores.LocalDS_0 as string)).includes(name), `${name}: its folder is gone`);
  }
  assert.deepEqual(
    injector.injected.map((entry) => entry.split(' ')[0]),
    ['CreateSnapshot_Task', 'PUT', 'PUT', 'RemoveSnapshot_Task'],
  );
});

test(
  'vSphere: a cancel while the host has stopped reading the NBD upload ends the job at once and leaves nothing',
  // Well under the upload socket's 60 s idle timeout, which alone used to end such an upload.
  { skip: unavailable ?? false, timeout: 40_000 },
  async () => {
    const { engine, vc } = await setUp();
    const injector = await addThroughFaultProxy(engine, vc, [{ upload: 'stall', afterBytes: 4 * 1024 * 1024 }]);
    const before = await vmNames(engine);
    const job = await engine.restores.start(
      { vm: 'gamma', point: 'latest', newName: 'stalled', target: { kind: 'vsphere', host: 'vc', transport: 'nbd', diskFormat: 'thin' } },
      'test',
    );
    await until('the host to stop reading the upload', () => injector.injected.find((entry) => entry.startsWith('STALL')), 15_000);
    engine.jobs.cancel(job.id);
    const ended = await runJob(engine, job);
    assert.equal(ended.state, 'cancelled', ended.error ?? '');
    await assertNothingLeft(engine, vc, before, 'stalled');
  },
);

test('vSphere: no snapshot on a VVOL datastore', { skip: unavailable ?? false }, async () => {
  const { dir, engine, vc } = await setUp();
  // vcsim has no VVOL datastores: the injector reports LocalDS_0 as one.
  const asVvol: FaultRule = {
    rewrite: (method, body) =>
      method === 'RetrievePropertiesEx' && body.includes('summary.type')
        ? body.replace(/(<name>summary\.type<\/name><val[^>]*>)OTHER</g, '$1VVOL<')
        : body,
  };
  await addThroughFaultProxy(engine, vc, [asVvol]);
  const inventory = await engine.hosts.inventory('vc');
  assert.ok(inventory.datastores.every((ds) => ds.type === 'VVOL'));
  const job = await runJob(
    engine,
    await engine.restores.start(
      { vm: 'gamma', point: 'latest', newName: 'on-vvol', target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_0' } },
      'test',
    ),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  assert.deepEqual(
    job.steps.filter((step) => step.name.endsWith('snapshot')).map((step) => step.state),
    ['skipped', 'skipped'],
  );
  assert.ok(engine.catalog.jobEvents(job.id).some((event) => /no snapshot: LocalDS_0 is a VVOL datastore/.test(event.message)));
  assert.match(
    qemuImg(
      'compare',
      '-f',
      'raw',
      '-F',
      'vmdk',
      join(dir, 'disk.raw'),
      join(vc.datastores.LocalDS_0 as string, 'on-vvol', 'on-vvol.vmdk'),
    ),
    /identical/,
  );
});

test(
  'vSphere: original-location restore shows what it replaces, keeps a safety snapshot, and rolls back only changed blocks',
  { skip: unavailable ?? false },
  async () => {
    const { dir, engine, vc } = await setUp();
    await addSimulatorHost(engine, vc);
    const lun = vc.datastores.LocalDS_1 as string;
    await dispatch(engine, asOwner(), 'proxies.add', {
      name: 'san-proxy',
      host: 'vc',
      transports: ['san'],
      datastorePaths: { LocalDS_1: lun },
    });
    // The "original" VM: gamma as it was at the point, then changed on the datastore.
    const first = await runJob(
      engine,
      await engine.restores.start(
        { vm: 'gamma', point: 'latest', target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_1', diskFormat: 'thick' } },
        'test',
      ),
    );
    assert.equal(first.state, 'succeeded', first.error ?? '');
    const flat = join(lun, 'gamma', 'gamma-flat.vmdk');
    const handle = await open(flat, 'r+');
    await handle.write(Buffer.alloc(4096, 0x5a), 0, 4096, 3 * 1024 * 1024 + 100);
    await handle.write(Buffer.alloc(4096, 0x5a), 0, 4096, 0); // block 0 of writeMixedRaw(…, seed 2) is a hole
    await handle.close();
    assert.throws(
      () => qemuImg('compare', '-f', 'raw', '-F', 'vmdk', join(dir, 'disk.raw'), join(lun, 'gamma', 'gamma.vmdk')),
      { status: 1 },
      'qemu-img sees the change',
    );

    const preview = (await dispatch(engine, asOwner(), 'restore.previewOriginal', { vm: 'gamma', point: 'latest', host: 'vc' })) as {
      disks: { file: string }[];
      safetySnapshot: string;
    };
    assert.deepEqual(
      preview.disks.map((disk) => disk.file),
      ['[LocalDS_1] gamma/gamma.vmdk'],
    );
    await assert.rejects(
      engine.restores.start({ vm: 'gamma', point: 'latest', target: { kind: 'vsphere', host: 'vc', original: true } }, 'test'),
      { code: 'bad-request', message: /confirm/ },
    );

    const rollback = await runJob(
      engine,
      await engine.restores.start(
        { vm: 'gamma', point: 'latest', target: { kind: 'vsphere', host: 'vc', original: true, confirmOverwrite: true } },
        'test',
      ),
    );
    assert.equal(rollback.state, 'succeeded', rollback.error ?? '');
    assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', join(dir, 'disk.raw'), join(lun, 'gamma', 'gamma.vmdk')), /identical/);
    const result = rollback.result as { safetySnapshot: string; unchangedBlocks: number; totalBlocks: number; transport: string };
    assert.equal(result.transport, 'san');
    assert.equal(result.totalBlocks - result.unchangedBlocks, 2, 'only the two changed blocks were written');
    const client = await engine.hosts.connect('vc');
    const vm = (await client.inventory()).vms.find((candidate) => candidate.name === 'gamma');
    assert.ok(vm, 'the original VM is still there');
    assert.ok((await client.snapshotNames(vm.ref)).includes(result.safetySnapshot), 'the safety snapshot is kept');
    await client.logout();

    // Over NBD nothing can be read back, so every block is written; the result is the same.
    const viaNbd = await runJob(
      engine,
      await engine.restores.start(
        { vm: 'gamma', point: 'latest', target: { kind: 'vsphere', host: 'vc', original: true, confirmOverwrite: true, transport: 'nbd' } },
        'test',
      ),
    );
    assert.equal(viaNbd.state, 'succeeded', viaNbd.error ?? '');
    assert.match(qemuImg('compare', '-f', 'raw', '-F', 'vmdk', join(dir, 'disk.raw'), join(lun, 'gamma', 'gamma.vmdk')), /identical/);
  },
);

test('vSphere: an unreachable host and a full datastore are clear errors and leave no VM', { skip: unavailable ?? false }, async () => {
  const { engine, vc } = await setUp();
  await assert.rejects(
    dispatch(engine, asOwner(), 'hosts.add', {
      kind: 'vsphere',
      name: 'gone',
      url: 'https://127.0.0.1:9/sdk',
      user: 'u',
      password: 'p',
      insecure: true,
    }),
    { code: 'unavailable', message: /cannot reach vSphere at https:\/\/127\.0\.0\.1:9: ECONNREFUSED/ },
  );
  // The injector reports 1 MiB free on every datastore.
  await addThroughFaultProxy(engine, vc, [
    {
      rewrite: (method, body) =>
        method === 'RetrievePropertiesEx' ? body.replace(/(<name>summary\.freeSpace<\/name><val[^>]*>)\d+</g, '$11048576<') : body,
    },
  ]);
  const before = await vmNames(engine);
  const job = await runJob(
    engine,
    await engine.restores.start(
      { vm: 'gamma', point: 'latest', newName: 'no-room', target: { kind: 'vsphere', host: 'vc', diskFormat: 'thick' } },
      'test',
    ),
  );
  assert.equal(job.state, 'failed');
  assert.match(job.error ?? '', /datastore LocalDS_\d has 1048576 bytes free; the VM needs 12582912 \(thick\)/);
  assert.deepEqual(await vmNames(engine), before);
});

test('a host password is nowhere in the home but sealed in the secret store', { skip: unavailable ?? false }, async () => {
  const { dir, engine, vc } = await setUp();
  await addSimulatorHost(engine, vc);
  await dispatch(engine, asOwner(), 'hosts.add', {
    kind: 'vsphere',
    name: 'vc2',
    url: vc.url,
    user: vc.user,
    password: 'not-the-password',
    insecure: true,
  }).catch(() => undefined);
  const job = await runJob(
    engine,
    await engine.restores.start({ vm: 'gamma', point: 'latest', newName: 'secret-check', target: { kind: 'vsphere', host: 'vc' } }, 'test'),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const planted = [vc.password, 'not-the-password'];
  const home = join(dir, 'home');
  const files = (await readdir(home, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
  assert.ok(files.some((file) => file.endsWith('catalog.sqlite')));
  for (const file of files) {
    const bytes = await readFile(file);
    for (const secret of planted) assert.equal(bytes.includes(Buffer.from(secret)), false, `${secret} found in ${file}`);
  }
  const events = engine.catalog
    .jobEvents(job.id)
    .map((event) => event.message)
    .join('\n');
  for (const secret of planted) assert.ok(!events.includes(secret));
});

test(
  'vSphere: after kill -9 mid-restore the janitor removes the half-made VM at the next start',
  { skip: unavailable ?? false },
  async () => {
    const dir = await tempDir();
    const vc = await startVcsim();
    const home = join(dir, 'home');
    const source = join(dir, 'source');
    await mkdir(source);
    await writeMixedRaw(join(dir, 'big.raw'), 384, 5);
    await makeVmFolder(source, 'crashy', join(dir, 'big.raw'), 'monolithicFlat');
    const first = await openServedEngine({ home, workerThreads: 2 });
    assert.equal((await runJob(first, await first.backups.start(source, 'test'))).state, 'succeeded');
    await addSimulatorHost(first, vc);
    const before = (await first.hosts.inventory('vc')).vms;
    await first.close();

    const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
    const child = spawn(
      process.execPath,
      [cli, '--home', home, 'restore', 'vm', 'crashy', '--point', 'latest', '--target', 'vsphere:vc', '--transport', 'nbd'],
      { stdio: 'ignore' },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const catalog = new Database(join(home, 'catalog.sqlite'), { readonly: true });
    try {
      await until(
        'the disk transfer to start',
        () => {
          const row = catalog.prepare("SELECT current_step FROM jobs WHERE kind = 'restore-entire-vm'").get() as
            { current_step: string | null } | undefined;
          return row?.current_step === 'transfer-disks' ? row : undefined;
        },
        60_000,
      );
    } finally {
      catalog.close();
    }
    child.kill('SIGKILL');
    await exited;

    const engine = await openServedEngine({ home, workerThreads: 2 });
    try {
      const removed = await engine.janitor;
      const [job] = engine.catalog.listJobs().filter((candidate) => candidate.kind === 'restore-entire-vm');
      assert.equal(job?.state, 'interrupted');
      assert.ok(removed >= 2, `the janitor removed the VM and the staging copy (${removed})`);
      assert.deepEqual((await engine.hosts.inventory('vc')).vms, before, 'no half-made VM is left');
      assert.deepEqual(await readdir(join(home, 'staging')).catch(() => []), []);
      assert.ok(engine.catalog.jobEvents(job.id).some((event) => /janitor: removed half-restored VM crashy/.test(event.message)));
      assert.deepEqual(engine.catalog.openResources(), []);
    } finally {
      await engine.close();
    }
  },
);

test(
  'four-eyes: an original-location restore waits until a second signed-in approver approves it',
  { skip: unavailable ?? false },
  async () => {
    const { dir, engine, vc } = await setUp();
    await addSimulatorHost(engine, vc);
    assert.equal(
      (
        await runJob(
          engine,
          await engine.restores.start(
            { vm: 'gamma', point: 'latest', target: { kind: 'vsphere', host: 'vc', datastore: 'LocalDS_0' } },
            'test',
          ),
        )
      ).state,
      'succeeded',
    );
    const signedIn = async (name: string, role: string): Promise<Peer> => {
      await dispatch(engine, asOwner(), 'accounts.add', { name, role, password: `${name}-vsphere-pw` });
      const peer = new Peer(null);
      await dispatch(engine, peer, 'auth.login', { user: name, password: `${name}-vsphere-pw` });
      return peer;
    };
    const [alice, bob, carol] = [
      await signedIn('alice', 'approver'),
      await signedIn('bob', 'approver'),
      await signedIn('carol', 'administrator'),
    ];
    await dispatch(engine, carol, 'settings.set', { fourEyes: true });
    const held = (await dispatch(engine, alice, 'restore.entireVm', {
      vm: 'gamma',
      point: 'latest',
      target: { kind: 'vsphere', host: 'vc', original: true, confirmOverwrite: true },
    })) as { job: { id: string; state: string; waitingFor: string } };
    assert.deepEqual([held.job.state, held.job.waitingFor], ['waiting-for-operator', 'approval']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(engine.catalog.getJob(held.job.id)?.state, 'waiting-for-operator', 'it does not start by itself');
    await assert.rejects(dispatch(engine, alice, 'jobs.approve', { jobId: held.job.id }), {
      code: 'conflict',
      message: /a second person must approve/,
    });
    await dispatch(engine, bob, 'jobs.approve', { jobId: held.job.id });
    const ended = await runJob(engine, engine.catalog.getJob(held.job.id) as never);
    assert.equal(ended.state, 'succeeded', ended.error ?? '');
    assert.match(
      qemuImg('compare', '-f', 'raw', '-F', 'vmdk', join(dir, 'disk.raw'), join(vc.datastores.LocalDS_0 as string, 'gamma', 'gamma.vmdk')),
      /identical/,
    );
    const trail = engine.catalog.auditEntries().map((entry) => `${entry.actor} ${entry.action}`);
    assert.ok(
      trail.includes('local:carol settings.set') &&
        trail.includes('local:alice restore.entireVm') &&
        trail.includes('local:bob jobs.approve'),
    );
    assert.equal(engine.catalog.verifyAudit().intact, true);
  },
);
