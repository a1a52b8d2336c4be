// `lifeboat instant` from the command line against a serving engine, and an engine killed with
// -9 while a session runs: the next start unregisters the VM, unmounts the datastore and deletes
// the cache, so nothing is left mounted.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { VsphereClient } from '../../electron/drivers/vsphere/vsphere-client.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import type { InstantSession } from '../../shared/domain.ts';
import { makeVmFolder, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';
import { withNfsPorts } from '../helpers/port-lock.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');
const missing = vcsimUnavailable();

test("instant start/list from the CLI; a killed engine's session is taken down at the next start", { skip: missing ?? false }, () =>
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

    const server = spawn(process.execPath, [cli, '--home', home, 'serve', '--port', '0', '--json'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => server.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('serve printed no URL in 30 s')), 30_000);
        server.stdout?.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('{')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      // As root, the default listen address: NFS on 2049 and the portmapper on 111, as ESXi
      // expects; elsewhere those ports cannot be bound, so a free one (and no portmapper check).
      const privileged = process.getuid?.() === 0;
      const started = JSON.parse(
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
    } finally {
      server.kill('SIGKILL');
      await exited;
    }

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
      const second = await openServedEngine({ home, workerThreads: 2 });
      try {
        assert.equal(await second.instant.recovered, 1);
        const [session] = second.instant.list();
        assert.equal(session?.state, 'stopped');
        assert.match(session?.note ?? '', /the engine stopped while this session ran/);
        assert.deepEqual(await onHost(), { vm: false, datastore: false });
        await assert.rejects(access(join(home, 'instant', session?.datastore ?? '')));
        await assert.rejects(access(session?.writesTo ?? ''));
      } finally {
        await second.close();
      }
    } finally {
      await client.logout();
    }
  }),
);
