// The NFS v3 server against a real client (libnfs's nfs-ls, nfs-cat, nfs-cp): a restore point's
// VM folder served straight from the backup, reads identical to the source disk, writes going
// to the session's cache and never to the backup; garbage on the wire closes that connection only.
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
import { runJob, tempDir } from '../helpers/env.ts';
import { tapeLab } from '../helpers/tape.ts';

const run = promisify(execFile);
const { engine, vms } = await tapeLab({ vms: 1, diskMib: 12, tapeMib: 64, toTape: false });
const vm = vms[0] as (typeof vms)[number];
const cache = await tempDir('lifeboat-nfs-cache-');
const vmId = engine.resolveVm(vm.name).id;
const pointId = engine.resolvePointId(vmId, 'latest');
const { volume } = await openBackupVolume(engine.repository, vmId, pointId, cache);
const server = await NfsServer.listen('127.0.0.1', 0);
const exportId = server.addExport('/lifeboat/session-1', volume);
const url = (path: string): string => `nfs://127.0.0.1/lifeboat/session-1${path}?nfsport=${server.port}&mountport=${server.port}`;

async function nfs(tool: string, ...args: string[]): Promise<Buffer> {
  const { stdout } = await run(tool, args, { encoding: "buffer", timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }).catch((error: { stderr?: Buffer; message: string }) => {
    throw new Error(`${tool}: ${error.stderr?.toString() ?? error.message}`);
  });
  return stdout;
}

test('nfs-ls lists the VM folder; nfs-cat reads the flat disk identical to the source', async () => {
  const listing = (await nfs('nfs-ls', url(''))).toString();
  for (const name of [`${vm.name}.vmx`, `${vm.name}.vmdk`, `${vm.name}-flat.vmdk`]) assert.match(listing, new RegExp(` ${name.replace('.', '\\.')}\\n`));
  assert.match(listing, new RegExp(`${12 * 1024 * 1024} ${vm.name}-flat\\.vmdk`));
  assert.ok((await nfs('nfs-cat', url(`/${vm.name}-flat.vmdk`))).equals(await readFile(vm.raw)), 'the disk read over NFS is the source disk');
  assert.match((await nfs('nfs-cat', url(`/${vm.name}.vmdk`))).toString(), /createType="monolithicFlat"/);
  assert.ok((server.stats(exportId)?.bytesRead ?? 0) >= 12 * 1024 * 1024);
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
  const flatId = volume.lookup(volume.rootId, `${vm.name}-flat.vmdk`);
  const patch = randomBytes(200_000);
  await volume.write(flatId, 5 * 1024 * 1024 - 1000, patch);
  const expected = await readFile(vm.raw);
  patch.copy(expected, 5 * 1024 * 1024 - 1000);
  assert.ok((await nfs('nfs-cat', url(`/${vm.name}-flat.vmdk`))).equals(expected));
  assert.ok(volume.cachedBytes > 0);
  const verify = await runJob(engine, engine.startVerify(vm.name, 'latest', 'test'));
  assert.equal(verify.state, 'succeeded', 'every block of the backup still hashes right');
  const again = await openBackupVolume(engine.repository, vmId, pointId, await tempDir());
  const { data } = await again.volume.read(again.volume.lookup(again.volume.rootId, `${vm.name}-flat.vmdk`), 0, 12 * 1024 * 1024);
  assert.ok(Buffer.from(data).equals(await readFile(vm.raw)), 'a new session sees the backup, not the old cache');
  await again.volume.close();
});

test('unknown exports and garbage are refused; the server keeps serving', async () => {
  await assert.rejects(nfs('nfs-ls', `nfs://127.0.0.1/no/such/export?nfsport=${server.port}&mountport=${server.port}`));
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

test('the server stops with its exports', async () => {
  await server.close();
  await assert.rejects(nfs('nfs-ls', url('')));
});
