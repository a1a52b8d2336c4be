// `lifeboat instant` from the command line against a serving engine, and an engine killed with
// -9 while a session runs: the next `lifeboat serve` on the same home serves the session again
// (same port, same file handles, the writes made before the kill), and `instant stop` then
// unregisters the VM, unmounts the datastore and deletes the cache.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { VsphereClient } from '../../electron/drivers/vsphere/vsphere-client.ts';
import { NfsStatus } from '../../electron/nfs/nfs-status.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import type { InstantSession } from '../../shared/domain.ts';
import { makeVmFolder, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { handleOf, nfsCommit, nfsRead, nfsWrite } from '../helpers/nfs-rpc.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';
import { withNfsPorts } from '../helpers/port-lock.ts';
import { cli, startServe } from '../helpers/serve-process.ts';

const run = promisify(execFile);
const missing = vcsimUnavailable();
const MIB = 1024 * 1024;

/** READ over a new connection, tried again while the restarted engine is not serving yet (bounded). */
async function readWhenServed(port: number, handle: Uint8Array, offset: number, count: number): Promise<Buffer> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const parts: Buffer[] = [];
      for (let at = offset; at < offset + count;) {
        const { status, data } = await nfsRead(port, handle, at, Math.min(512 * 1024, offset + count - at));
        assert.equal(status, NfsStatus.ok, `READ at ${at}`);
        parts.push(Buffer.from(data));
        at += data.length;
      }
      return Buffer.concat(parts);
    } catch (error) {
      if (Date.now() > deadline || error instanceof assert.AssertionError) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

test(
  "instant start/list from the CLI; a killed engine's session is served again by the next one, then stopped from the CLI",
  { skip: missing ?? false },
  () =>
    withNfsPorts(async () => {
      const dir = await tempDir();
      const home = join(dir, 'home');
      await mkdir(join(home, 'instant'), { recursive: true });
      const vc = await startVcsim({ cwd: join(home, 'instant') });
      const first = await openServedEngine({ home, workerThreads: 2 });
      try {
        const folder = join(dir, 'app-01');
        await mkdir(folder);
        await writeMixedRaw(join(dir, 'app-01.raw'), 8, 3);
        await makeVmFolder(folder, 'app-01', join(dir, 'app-01.raw'), 'monolithicFlat');
        assert.equal((await runJob(first, await first.backups.start(folder, 'test'))).state, 'succeeded');
        await first.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'test');
      } finally {
        await first.close();
      }
      const lifeboat = (...args: string[]) => run(process.execPath, [cli, '--home', home, '--json', ...args], { timeout: 120_000 });
      await assert.rejects(
        lifeboat('instant', 'start', 'app-01', '--host', 'vc', '--listen', '127.0.0.1:0'),
        (error: { code?: number; stdout?: string }) => {
          assert.equal(error.code, 2);
          assert.match(error.stdout ?? '', /lives in a running engine/);
          return true;
        },
      );

      const raw = await readFile(join(dir, 'app-01.raw'));
      const expected = Buffer.from(raw);
      let started: InstantSession | null = null;
      let port = 0;
      let disk: Uint8Array = new Uint8Array(0);
      const killed = await startServe(home);
      try {
        // As root, the default listen address: NFS on 2049 and the portmapper on 111, as ESXi
        // expects; elsewhere those ports cannot be bound, so a free one (and no portmapper check).
        const privileged = process.getuid?.() === 0;
        started = JSON.parse(
          (
            await lifeboat(
              'instant',
              'start',
              'app-01',
              '--point',
              'latest',
              '--host',
              'vc',
              '--allow',
              '127.0.0.1',
              ...(privileged ? [] : ['--listen', '127.0.0.1:0']),
            )
          ).stdout,
        ) as InstantSession;
        assert.equal(started.state, 'running');
        assert.match(
          started.nfsUrl,
          privileged
            ? /^nfs:\/\/127\.0\.0\.1\/lifeboat\/lifeboat-ir-[0-9a-f]{8}$/
            : /^nfs:\/\/127\.0\.0\.1\/lifeboat\/lifeboat-ir-[0-9a-f]{8}\?nfsport=\d+&mountport=\d+$/,
        );
        if (privileged) {
          // libnfs with no ports given asks the portmapper, as a host would.
          const { stdout: listing } = await run('nfs-ls', [`${started.nfsUrl}/app-01`], { timeout: 60_000 });
          assert.match(listing, / app-01-flat\.vmdk\n/);
        } else console.log('not root: the portmapper on 111 is not checked');
        const listed = JSON.parse((await lifeboat('instant', 'list')).stdout) as InstantSession[];
        assert.deepEqual(
          listed.map((session) => [session.id, session.state]),
          [[started.id, 'running']],
        );
        // The guest writes: one FILE_SYNC, one UNSTABLE then COMMIT, as a client would.
        const url = new URL(started.nfsUrl);
        port = privileged ? 2049 : Number(url.searchParams.get('nfsport'));
        disk = await handleOf(port, url.pathname, ['app-01', 'app-01-flat.vmdk']);
        const synced = randomBytes(200_000);
        const unstable = randomBytes(300_000);
        assert.equal(await nfsWrite(port, disk, MIB + 3, synced), NfsStatus.ok);
        assert.equal(await nfsWrite(port, disk, 5 * MIB - 11, unstable, 0), NfsStatus.ok);
        assert.equal(await nfsCommit(port, disk), NfsStatus.ok);
        synced.copy(expected, MIB + 3);
        unstable.copy(expected, 5 * MIB - 11);
      } finally {
        await killed.kill('SIGKILL');
      }
      assert.ok(started);

      const client = await VsphereClient.connect({ url: new URL(vc.url), insecure: true }, vc.user, vc.password);
      const onHost = async () => {
        const inventory = await client.inventory();
        return {
          vm: inventory.vms.some((found) => found.name === 'app-01'),
          datastore: inventory.datastores.some((datastore) => datastore.name.startsWith('lifeboat-ir-')),
        };
      };
      try {
        assert.deepEqual(await onHost(), { vm: true, datastore: true }, 'the killed engine left its VM and datastore on the host');
        const restarted = Date.now();
        const second = await startServe(home);
        try {
          await readWhenServed(port, disk, 0, 4096);
          console.log(
            `the session answered NFS again ${((Date.now() - restarted) / 1000).toFixed(2)} s after \`lifeboat serve\` was started again`,
          );
          // The handle from before the kill reads the point plus every write made before it.
          assert.ok((await readWhenServed(port, disk, 0, expected.length)).equals(expected), 'the old handle reads the same bytes');
          const [session] = JSON.parse((await lifeboat('instant', 'list')).stdout) as InstantSession[];
          assert.equal(session?.state, 'running');
          assert.equal(session?.nfsUrl, started.nfsUrl, 'served at the same address and port');
          assert.deepEqual(await onHost(), { vm: true, datastore: true }, 'the VM and its datastore stay on the host');
          await lifeboat('instant', 'stop', started.id.slice(0, 8));
          const [stopped] = JSON.parse((await lifeboat('instant', 'list')).stdout) as InstantSession[];
          assert.equal(stopped?.state, 'stopped');
          assert.deepEqual(await onHost(), { vm: false, datastore: false });
          await assert.rejects(access(join(home, 'instant', started.datastore)));
          await assert.rejects(access(started.writesTo));
        } finally {
          await second.kill('SIGKILL');
        }
      } finally {
        await client.logout();
      }
    }),
);
