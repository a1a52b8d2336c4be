// A point backed up from vSphere is the same kind of point as one backed up from a folder: a VM
// whose disk holds a real guest file system is restored into govmomi's simulator, backed up from
// there through NBD, and that point is restored every way a point can be — files, disks with an
// OVF template, Instant Recovery over NFS, tape, Azure Storage, a copy in another region and a
// rollback of the VM where it runs — each giving back the guest's bytes. (Entire VM to a folder
// or a new vSphere VM, and encryption: vsphere-backup.test.ts.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { findVm } from '../../electron/drivers/vsphere/vm-config.ts';
import { el } from '../../electron/drivers/vsphere/xml.ts';
import { buildGuestDisk } from '../../electron/lab/guest-disk.ts';
import type { InstantSession, Job } from '../../shared/domain.ts';
import { startAzurite } from '../helpers/azurite.ts';
import { openEngine, qemuImg, runJob, tempDir, until } from '../helpers/env.ts';
import { reconfigure, restoreIntoSimulator } from '../helpers/simulator-vm.ts';
import { tapesOf } from '../helpers/tape.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';

const run = promisify(execFile);
const unavailable = vcsimUnavailable();
const MIB = 1024 * 1024;
// Restored into the simulator as "web", then renamed there: its disk files keep the old name, as
// a VM renamed in vCenter does, so no restore may assume a disk is named after its VM.
const VM = 'app';
const DISK = 'web.vmdk';

const dir = await tempDir();
const home = join(dir, 'home');
// NAS datastores' local paths resolve in vcsim's working folder: the engine's export folders.
await mkdir(join(home, 'instant'), { recursive: true });
const engine = await openEngine(home);
const api = inProcessApi(engine);
const work = join(dir, 'work');
await mkdir(work);
const guest = await buildGuestDisk(work, 'guest', 64);
const vc = unavailable ? null : await startVcsim({ cwd: join(home, 'instant') });
let pointId = '';

/** The guest VM backed up from a folder ("gamma"), restored into the simulator as "web", renamed "app",
 * then backed up from vSphere through NBD: the point every test below restores. */
async function backUpFromVsphere(): Promise<void> {
  await restoreIntoSimulator(engine, vc as NonNullable<typeof vc>, { dir, name: 'web', datastore: 'LocalDS_0', disk: guest.rawPath });
  const client = await engine.hosts.connect('vc');
  try {
    await reconfigure(client, await findVm(client, 'web'), el('name', VM));
  } finally {
    await client.logout();
  }
  const backup = await runJob(
    engine,
    await engine.backups.startFromVsphere({ host: 'vc', vm: VM, transport: 'nbd', quiesce: false }, 'test'),
  );
  assert.equal(backup.state, 'succeeded', backup.error ?? '');
  pointId = backup.result?.pointId as string;
  assert.equal(typeof pointId, 'string');
}

if (vc) await backUpFromVsphere();

function identical(vmdk: string, format = 'vmdk'): void {
  assert.match(qemuImg('compare', '-f', 'raw', '-F', format, guest.rawPath, vmdk), /identical/);
}

async function succeeded(job: Job): Promise<Job> {
  const ended = await runJob(engine, job);
  assert.equal(ended.state, 'succeeded', ended.error ?? '');
  return ended;
}

const skip = unavailable ?? false;

test('items: the point was indexed; files list and restore byte-identical from the guest file system', { skip }, async () => {
  const vmId = engine.lookup.resolveVm(VM).id;
  const index = await until(
    'the index job of the vSphere point',
    () => engine.catalog.listJobs().find((job) => job.kind === 'index' && job.vmId === vmId && ['succeeded', 'failed'].includes(job.state)),
    120_000,
  );
  assert.equal(index.state, 'succeeded', index.error ?? '');
  const { hits } = await api.invoke('files.search', { pattern: 'hostname', vm: VM });
  assert.ok(
    hits.some((hit) => hit.path.endsWith('etc/hostname')),
    'the index finds etc/hostname',
  );
  const listed = await api.invoke('files.list', { vm: VM, point: pointId, path: '/disk0/part1/etc' });
  assert.ok(listed.some((entry) => entry.name === 'hostname'));
  const out = join(dir, 'items');
  await succeeded(
    (
      await api.invoke('files.restore', {
        vm: VM,
        point: pointId,
        paths: ['/disk0/part1/etc/hostname', '/disk0/part1/home/operator/blob.bin'],
        target: { kind: 'local', path: out },
      })
    ).job,
  );
  for (const file of ['etc/hostname', 'home/operator/blob.bin']) {
    const name = file.split('/').at(-1) as string;
    const restored = await findFile(out, name);
    assert.ok(restored, `${name} restored`);
    assert.ok((await readFile(restored)).equals(await readFile(join(work, 'files', file))), file);
  }
});

async function findFile(folder: string, name: string): Promise<string | null> {
  for (const entry of await readdir(folder, { withFileTypes: true, recursive: true }))
    if (entry.isFile() && entry.name === name) return join(entry.parentPath, entry.name);
  return null;
}

test('disks + OVF template: the disk is the guest disk, the descriptor names the VM', { skip }, async () => {
  const out = join(dir, 'ovf');
  await succeeded(
    (await api.invoke('restore.disks', { vm: VM, point: pointId, target: { kind: 'local', path: out }, template: 'ovf' })).job,
  );
  const ovf = await readFile(join(out, `${VM}.ovf`), 'utf8');
  assert.match(ovf, new RegExp(`<(ovf:)?Name>${VM}</`));
  const href = /href="([^"]+)"/.exec(ovf)?.[1];
  assert.ok(href, 'the OVF references a disk file');
  identical(join(out, href));
  // The same hardware as the OVF of the point backed up from the folder, but for the names.
  const local = join(dir, 'ovf-local');
  await succeeded(
    (await api.invoke('restore.disks', { vm: 'gamma', point: 'latest', target: { kind: 'local', path: local }, template: 'ovf' })).job,
  );
  const localOvf = await readFile(join(local, 'gamma.ovf'), 'utf8');
  const comparable = (text: string, names: string[]): string =>
    names
      .reduce((out, name) => out.replaceAll(`"${name}"`, '"NAME"').replaceAll(`>${name}<`, '>NAME<'), text)
      .replace(/ ovf:size="\d+"/, '');
  assert.equal(comparable(ovf, [VM, DISK]), comparable(localOvf, ['gamma', 'gamma.vmdk']));
});

test('Instant Recovery: the disk read over NFS from the session is the guest disk; stop takes it away', { skip }, async () => {
  const { job, session } = await api.invoke('instant.start', {
    vm: VM,
    point: pointId,
    host: 'vc',
    // The backed-up VM still runs on the host under its own name.
    name: `${VM}-instant`,
    listen: '127.0.0.1:0',
  });
  await succeeded(job);
  const running = (await api.invoke('instant.list', {})).find((listed) => listed.id === session.id) as InstantSession;
  assert.equal(running.state, 'running');
  try {
    const url = new URL(running.nfsUrl);
    const folderUrl = `nfs://${url.host}${url.pathname}/${running.vmName}`;
    const { stdout: listing } = await run('nfs-ls', [`${folderUrl}${url.search}`], { timeout: 60_000 });
    const flat = /\s(\S+-flat\.vmdk)$/m.exec(listing)?.[1];
    assert.ok(flat, `a flat disk in the export:\n${listing}`);
    const copied = join(dir, 'over-nfs.raw');
    await run('nfs-cp', [`${folderUrl}/${flat}${url.search}`, copied], { timeout: 120_000 });
    identical(copied, 'raw');
  } finally {
    await succeeded((await api.invoke('instant.stop', { sessionId: session.id })).job);
  }
  const stopped = (await api.invoke('instant.list', {})).find((listed) => listed.id === session.id) as InstantSession;
  assert.equal(stopped.state, 'stopped');
});

test('tape: the point copied to the virtual library restores from tape identical', { skip }, async () => {
  await engine.tape.createLibrary({
    slots: 8,
    drives: 2,
    mailslots: 2,
    tapes: 2,
    capacityBytes: 256 * MIB,
    timeScale: 0.001,
    rateScale: 1,
  });
  await succeeded(await engine.tape.startBackup([VM], 'weekly', pointId, 'test'));
  const out = join(dir, 'from-tape');
  const { jobs } = await engine.tape.startRestore({ vms: [VM], point: pointId, target: { kind: 'local', path: out } }, 'test');
  assert.equal(jobs.length, 1);
  for (const job of jobs) assert.ok(tapesOf(await succeeded(job)).length > 0, 'read from a tape');
  // One VM is restored into the target folder itself.
  identical(join(out, DISK));
});

test('Azure: the point uploaded to Azurite as a fixed VHD reads back as the guest disk', { skip }, async (t) => {
  const azurite = await startAzurite(['primary']);
  t.after(() => azurite.stop());
  await api.invoke('azure.add', {
    name: 'prod',
    blobUrl: azurite.blobUrl('primary'),
    accountName: 'primary',
    key: azurite.keys.primary as string,
  });
  const container = new BlobServiceClient(
    azurite.blobUrl('primary'),
    new StorageSharedKeyCredential('primary', azurite.keys.primary as string),
  ).getContainerClient('restores');
  await container.create();
  await succeeded((await api.invoke('restore.azure', { vm: VM, point: pointId, account: 'prod', container: 'restores' })).job);
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat()) names.push(blob.name);
  const vhdName = names.find((name) => name.endsWith('.vhd'));
  assert.ok(vhdName, `a VHD among ${names.join(', ')}`);
  const vhd = join(dir, 'azure.vhd');
  await container.getBlobClient(vhdName).downloadToFile(vhd);
  assert.match(
    qemuImg(
      'compare',
      '--image-opts',
      `driver=raw,file.filename=${guest.rawPath}`,
      `driver=vpc,force_size_calc=current_size,file.filename=${vhd}`,
    ),
    /identical/,
  );
});

test('copies: a GRS copy job copies the point; a restore from the secondary region is identical', { skip }, async () => {
  await api.invoke('settings.set', { copyPolicy: 'grs' });
  await api.invoke('repos.add', { name: 'near', path: join(dir, 'near'), region: 'primary', zone: 'zone-2' });
  await api.invoke('repos.add', { name: 'zoned', path: join(dir, 'zoned'), region: 'primary', zone: 'zone-3' });
  await api.invoke('repos.add', { name: 'far', path: join(dir, 'far'), region: 'secondary', zone: 'zone-1' });
  await succeeded((await api.invoke('copies.run', {})).job);
  const out = join(dir, 'from-secondary');
  const job = await succeeded(
    (await api.invoke('restore.entireVm', { vm: VM, point: pointId, target: { kind: 'local', path: out }, fromRegion: 'secondary' })).job,
  );
  assert.equal((job.result?.source as { region: string }).region, 'secondary');
  identical(join(out, DISK));
});

test('entire VM to its original location: the VM the point was backed up from is rolled back to it', { skip }, async () => {
  // The guest changes its disk on the datastore after the backup.
  const flat = join((vc as NonNullable<typeof vc>).datastores.LocalDS_0 as string, 'web', 'web-flat.vmdk');
  const handle = await open(flat, 'r+');
  await handle.write(randomBytes(64 * 1024), 0, 64 * 1024, 5 * MIB);
  await handle.close();
  const rollback = await succeeded(
    await engine.restores.start(
      { vm: VM, point: pointId, target: { kind: 'vsphere', host: 'vc', original: true, confirmOverwrite: true, transport: 'nbd' } },
      'test',
    ),
  );
  assert.equal(rollback.result?.original, true);
  identical(flat, 'raw');
});

after(async () => {
  await engine.close();
  await vc?.stop();
});
