// The NFS v3 server against a real client (libnfs's nfs-ls, nfs-cat, nfs-cp): a restore point's
// VM folder served straight from the backup, reads identical to the source disk, writes going
// to the session's cache and never to the backup; garbage on the wire closes that connection only.
// Also the benchmarks' in-process NFS client (scripts/peers/nfs-client.ts) against this server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { openBackupVolume } from '../../electron/nfs/backup-volume.ts';
import { NfsServer } from '../../electron/nfs/nfs-server.ts';
import { encodeHandle, NFS_PROGRAM, NFS_VERSION } from '../../electron/nfs/nfs-program.ts';
import { callMessage, handleOf, nfsRead, nfsWrite, recordOf, writeArgs } from '../helpers/nfs-rpc.ts';
import { NfsStatus } from '../../electron/nfs/nfs-status.ts';
import { VM_FOLDER_ID } from '../../electron/nfs/volume.ts';
import { runJob, tempDir } from '../helpers/env.ts';
import { tapeLab } from '../helpers/tape.ts';
import { connectNfs } from '../../scripts/peers/nfs-client.ts';

const run = promisify(execFile);
const { engine, vms } = await tapeLab({ vms: 1, diskMib: 12, tapeMib: 64, toTape: false });
const vm = vms[0] as (typeof vms)[number];
const vmId = engine.lookup.resolveVm(vm.name).id;
const pointId = engine.lookup.resolvePointId(vmId, 'latest');
async function sessionFolders(): Promise<{ exportFolder: string; cacheFolder: string }> {
  const root = await tempDir('lifeboat-nfs-');
  return { exportFolder: join(root, 'export'), cacheFolder: join(root, 'cache') };
}
const folders = await sessionFolders();
const volume = await openBackupVolume(engine.repository, vmId, pointId, folders);
const server = await NfsServer.listen('127.0.0.1', 0);
const exportId = server.addExport('/lifeboat/session-1', volume, ['127.0.0.1']);
// The same point, exported to a client that is not this one.
server.addExport('/lifeboat/elsewhere', await openBackupVolume(engine.repository, vmId, pointId, await sessionFolders()), ['127.0.0.9']);
/** A file in the export's VM folder (or the folder itself). */
const url = (path: string): string =>
  `nfs://127.0.0.1/lifeboat/session-1/${vm.name}${path}?nfsport=${server.port}&mountport=${server.port}`;

async function nfs(tool: string, ...args: string[]): Promise<Buffer> {
  const { stdout } = await run(tool, args, { encoding: 'buffer', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }).catch(
    (error: { stderr?: Buffer; message: string }) => {
      throw new Error(`${tool}: ${error.stderr?.toString() ?? error.message}`);
    },
  );
  return stdout;
}

test('nfs-ls lists the VM folder; nfs-cat reads the flat disk identical to the source', async () => {
  const root = (await nfs('nfs-ls', `nfs://127.0.0.1/lifeboat/session-1?nfsport=${server.port}&mountport=${server.port}`)).toString();
  assert.match(root, new RegExp(`^d.* ${vm.name}$`, 'm'), 'the datastore holds the VM folder');
  const listing = (await nfs('nfs-ls', url(''))).toString();
  for (const name of [`${vm.name}.vmx`, `${vm.name}.vmdk`, `${vm.name}-flat.vmdk`])
    assert.match(listing, new RegExp(` ${name.replace('.', '\\.')}\\n`));
  assert.match(listing, new RegExp(`${12 * 1024 * 1024} ${vm.name}-flat\\.vmdk`));
  assert.ok(
    (await nfs('nfs-cat', url(`/${vm.name}-flat.vmdk`))).equals(await readFile(vm.raw)),
    'the disk read over NFS is the source disk',
  );
  assert.match((await nfs('nfs-cat', url(`/${vm.name}.vmdk`))).toString(), /createType="monolithicFlat"/);
  assert.ok((server.stats(exportId)?.bytesRead ?? 0) >= 12 * 1024 * 1024);
});

test("the benchmarks' in-process client: MNT, LOOKUP and READs give the source's bytes; refusals are clear errors", async () => {
  const client = await connectNfs('127.0.0.1', server.port, 30_000);
  try {
    const disk = await client.open('/lifeboat/session-1', [vm.name, `${vm.name}-flat.vmdk`]);
    const source = await readFile(vm.raw);
    const mib = 1024 * 1024;
    assert.ok(Buffer.from(await client.read(disk, 0, mib)).equals(source.subarray(0, mib)), 'the first MiB');
    assert.ok(Buffer.from(await client.read(disk, 11 * mib + 5, mib)).equals(source.subarray(11 * mib + 5)), 'a short read at the end');
    await assert.rejects(client.open('/lifeboat/elsewhere', []), /MNT \/lifeboat\/elsewhere: status 13/);
    await assert.rejects(client.open('/lifeboat/session-1', [vm.name, 'nothing.vmdk']), /LOOKUP nothing\.vmdk: status 2/);
  } finally {
    client.close();
  }
});

test('writes land in the cache: a new file, and the guest writes into its disk, read back; the backup stays as it was', async () => {
  const dir = await tempDir();
  const fresh = join(dir, 'fresh.bin');
  await writeFile(fresh, randomBytes(700_000));
  await nfs('nfs-cp', fresh, url('/vm.log'));
  assert.ok((await nfs('nfs-cat', url('/vm.log'))).equals(await readFile(fresh)));
  // nfs-cp creates GUARDED: an existing file is refused, as a Linux server would.
  await assert.rejects(nfs('nfs-cp', fresh, url(`/${vm.name}-flat.vmdk`)), /NFS3ERR_EXIST/);
  // The guest's own writes into its disk (partial, across cache chunks), then read over NFS.
  const flatId = volume.lookup(VM_FOLDER_ID, `${vm.name}-flat.vmdk`);
  const patch = randomBytes(200_000);
  await volume.write(flatId, 5 * 1024 * 1024 - 1000, patch);
  const expected = await readFile(vm.raw);
  patch.copy(expected, 5 * 1024 * 1024 - 1000);
  assert.ok((await nfs('nfs-cat', url(`/${vm.name}-flat.vmdk`))).equals(expected));
  assert.ok(volume.cachedBytes > 0);
  const verify = await runJob(engine, await engine.verifies.start(vm.name, 'latest', 'test'));
  assert.equal(verify.state, 'succeeded', 'every block of the backup still hashes right');
  const again = await openBackupVolume(engine.repository, vmId, pointId, await sessionFolders());
  const { data } = await again.read(again.lookup(VM_FOLDER_ID, `${vm.name}-flat.vmdk`), 0, 12 * 1024 * 1024);
  assert.ok(Buffer.from(data).equals(await readFile(vm.raw)), 'a new session sees the backup, not the old cache');
  await again.close();
  assert.ok(
    (await readFile(join(folders.exportFolder, vm.name, 'vm.log'))).equals(await readFile(fresh)),
    'files the client makes are real files in the export folder',
  );
});

test('unknown exports, clients the session does not allow, and garbage are refused; the server keeps serving', async () => {
  await assert.rejects(nfs('nfs-ls', `nfs://127.0.0.1/no/such/export?nfsport=${server.port}&mountport=${server.port}`));
  await assert.rejects(
    nfs('nfs-ls', `nfs://127.0.0.1/lifeboat/elsewhere?nfsport=${server.port}&mountport=${server.port}`),
    /MNT3ERR_ACCES|permission|denied|ACCES/i,
  );
  const socket = connect(server.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  const garbage = Buffer.alloc(64, 0xab);
  garbage.writeUInt32BE((0x80000000 | 60) >>> 0, 0);
  socket.write(garbage);
  await closed;
  const hugeRecord = connect(server.port, '127.0.0.1');
  await new Promise((resolve) => hugeRecord.once('connect', resolve));
  const hugeClosed = new Promise((resolve) => hugeRecord.once('close', resolve));
  hugeRecord.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
  await hugeClosed;
  assert.match((await nfs('nfs-ls', url(''))).toString(), /vm\.log/);
});

test('stale and foreign file handles, and reads past the end of a file, get their NFS answers', async () => {
  const exportPath = '/lifeboat/session-1';
  const flat = await handleOf(server.port, exportPath, [vm.name, `${vm.name}-flat.vmdk`]);
  const tail = await nfsRead(server.port, flat, 12 * 1024 * 1024 - 10, 100);
  assert.deepEqual([tail.status, tail.data.length, tail.eof], [NfsStatus.ok, 10, true]);
  const past = await nfsRead(server.port, flat, 64 * 1024 * 1024, 4096);
  assert.deepEqual([past.status, past.data.length, past.eof], [NfsStatus.ok, 0, true]);
  assert.equal((await nfsRead(server.port, encodeHandle(exportId, 999_999), 0, 10)).status, NfsStatus.stale);
  assert.equal((await nfsRead(server.port, encodeHandle(424_242, 3), 0, 10)).status, NfsStatus.stale);
  assert.equal((await nfsRead(server.port, Buffer.alloc(16, 7), 0, 10)).status, NfsStatus.badhandle);
  assert.equal(await nfsWrite(server.port, Buffer.alloc(3, 1), 0, Buffer.alloc(8)), NfsStatus.badhandle);
});

test('a client that disconnects in the middle of a WRITE record changes nothing', async () => {
  const flatId = volume.lookup(VM_FOLDER_ID, `${vm.name}-flat.vmdk`);
  const before = Buffer.from((await volume.read(flatId, 0, 256 * 1024)).data);
  const cachedBefore = volume.cachedBytes;
  const call = callMessage(NFS_PROGRAM, NFS_VERSION, 7, writeArgs(encodeHandle(exportId, flatId), 0, Buffer.alloc(256 * 1024, 0x5a)));
  const socket = connect(server.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.end(recordOf(call).subarray(0, call.length / 2));
  await closed;
  assert.equal(volume.cachedBytes, cachedBefore, 'no chunk was cached for the cut write');
  assert.ok(Buffer.from((await volume.read(flatId, 0, 256 * 1024)).data).equals(before));
  assert.match((await nfs('nfs-ls', url(''))).toString(), /-flat\.vmdk/);
});

test('the server stops with its exports', async () => {
  await server.close();
  await assert.rejects(nfs('nfs-ls', url('')));
});
