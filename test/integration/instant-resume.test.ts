// Instant Recovery sessions across engine restarts, in process against govmomi's vCenter
// simulator, on free loopback ports: a graceful close keeps the sessions, the next engine serves
// them again on the same port with the same file handles; a handle of a stopped session is
// stale; a port taken meanwhile and an encrypted point whose key the engine does not keep leave
// the session running but not served, saying why (its clients hear NFS3ERR_JUKEBOX where its
// server is up), until it can be served or is stopped; a write cache damaged meanwhile is not
// tried again: the session says it cannot be served again, its handles are stale, it can be stopped.
import assert from 'node:assert/strict';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { randomBytes, randomUUID } from 'node:crypto';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { VsphereClient } from '../../electron/drivers/vsphere/vsphere-client.ts';
import type { Engine } from '../../electron/engine/engine.ts';
import { decodeHandle, encodeHandle } from '../../electron/nfs/nfs-program.ts';
import { NfsStatus } from '../../electron/nfs/nfs-status.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import type { InstantSession } from '../../shared/domain.ts';
import { makeVmFolder, runJob, tempDir, until, writeMixedRaw } from '../helpers/env.ts';
import { handleOf, nfsRead, nfsWrite } from '../helpers/nfs-rpc.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';

const MIB = 1024 * 1024;
const missing = vcsimUnavailable();
const dir = await tempDir();
const home = join(dir, 'home');
await mkdir(join(home, 'instant'), { recursive: true });
const vc = missing ? null : await startVcsim({ cwd: join(home, 'instant') });
const PASSWORD = 'resume password';

/** The engine of the test home; each test closes it and opens the next one itself. */
let engine: Engine = await openServedEngine({ home, workerThreads: 2 });
after(() => engine.close());
const raws: Record<string, string> = {};
for (const [name, encrypt] of [
  ['app', false],
  ['sealed', true],
] as const) {
  const folder = join(dir, name);
  raws[name] = join(dir, `${name}.raw`);
  await mkdir(folder);
  await writeMixedRaw(raws[name], 8, name.length);
  await makeVmFolder(folder, name, raws[name], 'monolithicFlat');
  const { job } = await inProcessApi(engine).invoke('backup.start', {
    source: { kind: 'local', path: folder },
    ...(encrypt ? { encrypt, password: PASSWORD } : {}),
  });
  assert.equal((await runJob(engine, job)).state, 'succeeded');
}
if (vc) await engine.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'test');

async function restart(): Promise<void> {
  await engine.close();
  engine = await openServedEngine({ home, workerThreads: 2 });
  await engine.instant.recovered;
}

async function start(vm: string, name: string, extra: Record<string, unknown> = {}): Promise<InstantSession> {
  const api = inProcessApi(engine);
  const { job, session } = await api.invoke('instant.start', {
    vm,
    name,
    host: 'vc',
    listen: '127.0.0.1:0',
    allow: ['127.0.0.1'],
    ...extra,
  });
  const ended = await runJob(engine, job);
  assert.equal(ended.state, 'succeeded', ended.error ?? '');
  return listed(session.id);
}

function listed(sessionId: string): InstantSession {
  const found = engine.instant.list().find((session) => session.id === sessionId);
  assert.ok(found, `session ${sessionId} is listed`);
  return found;
}

function portOf(session: InstantSession): number {
  return Number(new URL(session.nfsUrl).searchParams.get('nfsport'));
}

async function stop(sessionId: string): Promise<void> {
  const { job } = await inProcessApi(engine).invoke('instant.stop', { sessionId });
  const ended = await runJob(engine, job);
  assert.equal(ended.state, 'succeeded', ended.error ?? '');
}

async function diskHandle(session: InstantSession, port = portOf(session)): Promise<Uint8Array> {
  return handleOf(port, new URL(session.nfsUrl).pathname, [session.vmName, `${session.vmName}-flat.vmdk`]);
}

/** Reads `length` bytes at `offset` over NFS, in pieces a client would ask for. */
async function readOver(port: number, handle: Uint8Array, offset: number, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let at = offset; at < offset + length;) {
    const { status, data } = await nfsRead(port, handle, at, Math.min(512 * 1024, offset + length - at));
    assert.equal(status, NfsStatus.ok, `READ at ${at}`);
    parts.push(Buffer.from(data));
    at += data.length;
  }
  return Buffer.concat(parts);
}

test(
  'a graceful close keeps the session; the next engine serves it on the same port, old handles read the same bytes and the writes made before',
  { skip: missing ?? false },
  async () => {
    const session = await start('app', 'app-resume');
    const port = portOf(session);
    const disk = await diskHandle(session);
    const root = await handleOf(port, new URL(session.nfsUrl).pathname, []);
    const written = randomBytes(100_000);
    assert.equal(await nfsWrite(port, disk, MIB + 7, written), NfsStatus.ok);
    const raw = await readFile(raws.app as string);
    const expected = Buffer.from(raw);
    written.copy(expected, MIB + 7);

    await restart();
    const resumed = listed(session.id);
    assert.equal(resumed.state, 'running');
    assert.equal(resumed.nfsUrl, session.nfsUrl, 'the same address, port and export');
    assert.ok(resumed.bytesWritten >= written.length, 'the counters of the last engine are kept');
    assert.deepEqual(await handleOf(port, new URL(session.nfsUrl).pathname, []), root, 'MOUNT gives the same root handle');
    assert.deepEqual(await diskHandle(session), disk, 'LOOKUP gives the same disk handle');
    assert.ok((await readOver(port, disk, 0, expected.length)).equals(expected), 'the old handle reads the point plus the write');

    // A second session on the same server; then the first stops: its handles are stale, not another's.
    const other = await start('app', 'app-other', { listen: `127.0.0.1:${port}` });
    assert.equal(portOf(other), port);
    const otherDisk = await diskHandle(other);
    assert.ok(decodeHandle(otherDisk).exportId > decodeHandle(disk).exportId, 'a new session takes a new export id');
    await stop(session.id);
    assert.equal((await nfsRead(port, disk, 0, 10)).status, NfsStatus.stale);
    const { exportId, fileId } = decodeHandle(otherDisk);
    assert.equal((await nfsRead(port, encodeHandle(exportId, fileId, decodeHandle(disk).generation), 0, 10)).status, NfsStatus.stale);
    assert.ok((await readOver(port, otherDisk, 0, MIB)).equals(raw.subarray(0, MIB)));
    await assert.rejects(access(session.writesTo), 'the stopped session left no cache');

    // Across one more restart: the stopped one stays stale, the other serves on.
    await restart();
    assert.equal((await nfsRead(port, disk, 0, 10)).status, NfsStatus.stale);
    assert.ok((await readOver(port, otherDisk, 0, MIB)).equals(raw.subarray(0, MIB)));
    await stop(other.id);
  },
);

test(
  'a port taken when the engine restarts: the session stays running, not served, its note says why; once free, it is served again',
  { skip: missing ?? false },
  async () => {
    const session = await start('app', 'app-port');
    const port = portOf(session);
    const disk = await diskHandle(session);
    await engine.close();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      engine = await openServedEngine({ home, workerThreads: 2 });
      await engine.instant.recovered;
      const waiting = listed(session.id);
      assert.equal(waiting.state, 'running');
      assert.match(waiting.note ?? '', new RegExp(`not served since the engine restarted: cannot serve NFS on 127\\.0\\.0\\.1:${port}`));
      assert.match(waiting.note ?? '', /tried again every 5 s/);
      await assert.rejects(inProcessApi(engine).invoke('instant.migrate', { sessionId: session.id, datastore: 'LocalDS_1' }), {
        code: 'conflict',
        message: /not served yet since the engine restarted/,
      });
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
    await until('the session served again', () => (/served again/.test(listed(session.id).note ?? '') ? true : undefined), 30_000, 100);
    assert.ok((await readOver(port, disk, 0, MIB)).equals((await readFile(raws.app as string)).subarray(0, MIB)));
    await stop(session.id);
  },
);

test(
  'what a dead engine left mid-way: a migrating session runs on (its migration job failed, said), a stopping one is stopped, a starting one taken down',
  { skip: missing ?? false },
  async () => {
    const migrating = await start('app', 'app-migrating');
    const stopping = await start('app', 'app-stopping');
    const starting = await start('app', 'app-starting');
    const disk = await diskHandle(migrating);
    // The records as an engine that died in those steps leaves them (its jobs still "running").
    const startJob = engine.catalog.getJob(migrating.jobId ?? '');
    assert.ok(startJob);
    const migrationJobId = randomUUID();
    engine.catalog.insertJob(
      { ...startJob, id: migrationJobId, kind: 'instant-migrate', state: 'running', endedAt: null, result: null },
      { sessionId: migrating.id, datastore: 'LocalDS_1' },
    );
    engine.catalog.instant.update(migrating.id, { state: 'migrating', jobId: migrationJobId });
    engine.catalog.instant.update(stopping.id, { state: 'stopping' });
    engine.catalog.instant.update(starting.id, { state: 'starting' });
    await restart();

    const resumed = listed(migrating.id);
    assert.equal(resumed.state, 'running');
    assert.match(resumed.note ?? '', /the engine stopped during the quick migration; the VM runs on from the backup: migrate it again/);
    const job = engine.catalog.getJob(migrationJobId);
    assert.equal(job?.state, 'failed');
    assert.match(job?.error ?? '', /the engine stopped during the quick migration/);
    assert.ok((await readOver(portOf(resumed), disk, 0, MIB)).equals((await readFile(raws.app as string)).subarray(0, MIB)));

    assert.equal(listed(stopping.id).state, 'stopped');
    assert.match(listed(stopping.id).note ?? '', /finished it/);
    assert.equal(listed(starting.id).state, 'failed');
    assert.match(listed(starting.id).note ?? '', /while this session was starting/);
    const sim = vc as NonNullable<typeof vc>;
    const client = await VsphereClient.connect({ url: new URL(sim.url), insecure: true }, sim.user, sim.password);
    try {
      const inventory = await client.inventory();
      for (const ended of [stopping, starting]) {
        assert.ok(!inventory.vms.some((found) => found.name === ended.name), `${ended.name} is unregistered`);
        assert.ok(!inventory.datastores.some((datastore) => datastore.name === ended.datastore), `${ended.datastore} is unmounted`);
        await assert.rejects(access(ended.writesTo), 'its cache is gone');
      }
      assert.ok(
        inventory.vms.some((found) => found.name === 'app-migrating'),
        'the migrating VM still runs from the backup',
      );
    } finally {
      await client.logout();
    }
    await stop(migrating.id);
  },
);

test(
  'a graceful close never answers NFS3ERR_STALE: reads while the engine closes are answered or their connection drops',
  { skip: missing ?? false },
  async () => {
    const sessions = [await start('app', 'app-closing-1'), await start('app', 'app-closing-2')];
    const handles = await Promise.all(sessions.map((session) => diskHandle(session)));
    const statuses = new Map<string, number>();
    let closed = false;
    // Reads over new connections, one after another per session, until the close has ended.
    const readers = sessions.map(async (session, at) => {
      for (let round = 0; !closed && round < 100_000; round++) {
        const answer = await nfsRead(portOf(session), handles[at] as Uint8Array, (round % 8) * MIB, 4096).then(
          ({ status }) => String(status),
          () => 'dropped',
        );
        statuses.set(answer, (statuses.get(answer) ?? 0) + 1);
      }
    });
    await until('reads answered', () => ((statuses.get(String(NfsStatus.ok)) ?? 0) > 20 ? true : undefined), 30_000);
    await engine.close();
    closed = true;
    await Promise.all(readers);
    assert.equal(statuses.get(String(NfsStatus.stale)), undefined, `answers while closing: ${JSON.stringify([...statuses])}`);
    engine = await openServedEngine({ home, workerThreads: 2 });
    await engine.instant.recovered;
    for (const session of sessions) await stop(session.id);
  },
);

test(
  'a damaged write cache after a restart is final: not tried again, the note says so, its handles are stale, stop cleans up',
  { skip: missing ?? false },
  async () => {
    // It shares its server with a session that is served again, so its own handles get an answer.
    const beside = await start('app', 'app-beside-broken');
    const port = portOf(beside);
    const broken = await start('app', 'app-broken', { listen: `127.0.0.1:${port}` });
    const disk = await diskHandle(broken);
    await engine.close();
    await writeFile(join(broken.writesTo, 'volume.json'), '{ not json');
    engine = await openServedEngine({ home, workerThreads: 2 });
    await engine.instant.recovered;
    const final = listed(broken.id);
    assert.equal(final.state, 'running', 'still to be stopped by the operator');
    assert.match(final.note ?? '', /^cannot be served again: .*volume\.json is not JSON.*; `lifeboat instant stop` ends it$/);
    assert.doesNotMatch(final.note ?? '', /tried again/);
    assert.equal((await nfsRead(port, disk, 0, 10)).status, NfsStatus.stale, 'not "try again later": it will never be served');
    assert.ok((await readOver(port, await diskHandle(beside), 0, MIB)).equals((await readFile(raws.app as string)).subarray(0, MIB)));
    await stop(broken.id);
    assert.equal(listed(broken.id).state, 'stopped');
    await assert.rejects(access(broken.writesTo), 'the stopped session left no cache');
    await stop(beside.id);
  },
);

test(
  "an encrypted point's session after a restart waits for its key (not kept by the engine): stop still works, remembering the key serves it",
  { skip: missing ?? false },
  async () => {
    // One of them shares its server with a plain session, served at once after the restart.
    const beside = await start('app', 'app-beside');
    const port = portOf(beside);
    const kept = await start('sealed', 'sealed-kept', { password: PASSWORD, listen: `127.0.0.1:${port}` });
    const dropped = await start('sealed', 'sealed-dropped', { password: PASSWORD });
    const disk = await diskHandle(kept);
    await restart();
    assert.ok((await readOver(port, await diskHandle(beside), 0, MIB)).equals((await readFile(raws.app as string)).subarray(0, MIB)));
    assert.equal((await nfsRead(port, disk, 0, 10)).status, NfsStatus.jukebox, 'a client of the waiting session hears "try again later"');
    for (const session of [kept, dropped]) {
      const waiting = listed(session.id);
      assert.equal(waiting.state, 'running');
      assert.match(waiting.note ?? '', /waiting for the key since the engine restarted: .*is encrypted .*lifeboat keys remember/);
    }
    await stop(dropped.id);
    assert.equal(listed(dropped.id).state, 'stopped');
    await assert.rejects(access(dropped.writesTo), 'the stopped session left no cache');
    const keyId = engine.catalog.listPoints(kept.vmId).at(-1)?.keyId;
    assert.ok(keyId);
    await inProcessApi(engine).invoke('keys.remember', { keyId, password: PASSWORD });
    await until('the session served again', () => (/served again/.test(listed(kept.id).note ?? '') ? true : undefined), 30_000, 100);
    assert.equal(portOf(listed(kept.id)), port);
    assert.equal(listed(beside.id).note, null, 'the session served at once has nothing to say');
    assert.ok((await readOver(port, disk, 0, 8 * MIB)).equals(await readFile(raws.sealed as string)));
    await stop(kept.id);
    await stop(beside.id);
    await engine.close();
  },
);
