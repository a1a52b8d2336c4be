// A stop that comes while the restarted engine's retry is serving a waiting session again: the
// stop waits for the retry and takes down what it served, so a stopped session is never served.
// The retry is held just after its volume opened, before it is published (the one thing wrapped
// here, to hold it at that point: the volume itself is the real one) until the stop has reached
// its last step.
import assert from 'node:assert/strict';
import { access, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, mock, test } from 'node:test';
import type * as BackupVolume from '../../electron/nfs/backup-volume.ts';

const real: typeof BackupVolume = await import('../../electron/nfs/backup-volume.ts');
/** Set by the test: the next resumed volume, once open, waits for `open` after calling `reached`. */
let hold: { reached(): void; open: Promise<void> } | null = null;
mock.module('../../electron/nfs/backup-volume.ts', {
  exports: {
    ...real,
    openBackupVolume: async (...args: Parameters<typeof real.openBackupVolume>) => {
      const held = args[5]?.resume ? hold : null;
      if (held) hold = null;
      const volume = await real.openBackupVolume(...args);
      if (held) {
        held.reached();
        await held.open;
      }
      return volume;
    },
  },
});
// Everything that reaches the engine is imported after the wrap.
const { NfsStatus } = await import('../../electron/nfs/nfs-status.ts');
const { makeVmFolder, runJob, tempDir, until, writeMixedRaw } = await import('../helpers/env.ts');
const { handleOf, nfsRead } = await import('../helpers/nfs-rpc.ts');
const { startVcsim, vcsimUnavailable } = await import('../helpers/vcsim.ts');
const { inProcessApi } = await import('../../electron/cli/connect.ts');
const { openServedEngine } = await import('../../electron/rpc/open-served-engine.ts');

const missing = vcsimUnavailable();

test(
  'a stop during a resume retry: the retry finishes first, then the stop takes down what it served',
  { skip: missing ?? false },
  async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    await mkdir(join(home, 'instant'), { recursive: true });
    const vc = await startVcsim({ cwd: join(home, 'instant') });
    const folder = join(dir, 'app');
    await mkdir(folder);
    await writeMixedRaw(join(dir, 'app.raw'), 4, 3);
    await makeVmFolder(folder, 'app', join(dir, 'app.raw'), 'monolithicFlat');
    let engine = await openServedEngine({ home, workerThreads: 2 });
    after(() => engine.close());
    const api = () => inProcessApi(engine);
    const { job: backup } = await api().invoke('backup.start', { source: { kind: 'local', path: folder } });
    assert.equal((await runJob(engine, backup)).state, 'succeeded');
    await engine.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'test');
    const started = await api().invoke('instant.start', { vm: 'app', host: 'vc', listen: '127.0.0.1:0', allow: ['127.0.0.1'] });
    assert.equal((await runJob(engine, started.job)).state, 'succeeded');
    const session = engine.instant.list().find((found) => found.id === started.session.id);
    assert.ok(session);
    const port = Number(new URL(session.nfsUrl).searchParams.get('nfsport'));
    const disk = await handleOf(port, new URL(session.nfsUrl).pathname, ['app', 'app-flat.vmdk']);

    // The port taken while the engine restarts: the session waits, tried again every 5 s.
    await engine.close();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      engine = await openServedEngine({ home, workerThreads: 2 });
      await engine.instant.recovered;
    } catch (error) {
      squatter.close();
      throw error;
    }
    assert.match(engine.instant.list().find((found) => found.id === session.id)?.note ?? '', /not served since the engine restarted/);
    let reached!: () => void;
    const retried = new Promise<void>((resolve) => (reached = resolve));
    let open!: () => void;
    hold = { reached, open: new Promise<void>((resolve) => (open = resolve)) };
    await new Promise<void>((resolve) => squatter.close(() => resolve()));
    // The next retry has opened the volume and not published it yet: the stop comes now.
    await retried;
    const { job: stopJob } = await api().invoke('instant.stop', { sessionId: session.id });
    await until(
      'the stop at its last step',
      () =>
        engine.catalog.jobEvents(stopJob.id).some((event) => event.step === 'delete-cache') ||
        engine.catalog.getJob(stopJob.id)?.state !== 'running'
          ? true
          : undefined,
      30_000,
    );
    open();
    assert.equal((await runJob(engine, stopJob)).state, 'succeeded');
    const stopped = engine.instant.list().find((found) => found.id === session.id);
    assert.equal(stopped?.state, 'stopped');
    await assert.rejects(access(session.writesTo), 'the stopped session left no cache');
    // Nothing serves the stopped session: the port is closed (no other session), or its handle is stale.
    const answer = await nfsRead(port, disk, 0, 10).then(
      ({ status }) => status,
      () => 'closed',
    );
    assert.ok(answer === 'closed' || answer === NfsStatus.stale, `the stopped session's handle answers ${answer}`);
    // And no retry serves it later (one more interval).
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    assert.equal(
      await nfsRead(port, disk, 0, 10).then(
        ({ status }) => status,
        () => 'closed',
      ),
      'closed',
    );
  },
);
