// A session outlives its engine (issue 26, point 3): a real QEMU guest runs from the export of a
// `lifeboat serve` process and loops over write, sync, drop caches, read back and compare. After
// its second round the engine is killed with -9 and started again on the same home; NFS is
// stateless, so the guest's client reconnects to 2049 with the same file handle and must finish
// every round with no I/O error and intact data.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import type { InstantSession } from '../../shared/domain.ts';
import { makeVmFolder, runJob, tempDir } from '../helpers/env.ts';
import {
  bootGuest,
  buildGuestDisk,
  describeRun,
  guestUnavailable,
  hasMarker,
  hashesInImage,
  portsUnavailable,
  saveFailure,
} from '../helpers/guest.ts';
import { withNfsPorts } from '../helpers/port-lock.ts';
import { cli, startServe, type ServeProcess } from '../helpers/serve-process.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';

const run = promisify(execFile);
const VM = 'guest-loop';
const ROUNDS = 8;
const KILL_AFTER = 'round 2 ok';
const skip = guestUnavailable() ?? vcsimUnavailable() ?? portsUnavailable() ?? false;

test('a guest running from an Instant Recovery export keeps running when the engine is killed -9 and started again', { skip }, async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  await mkdir(join(home, 'instant'), { recursive: true });
  const disk = await buildGuestDisk(join(dir, 'build'), { workload: { kind: 'loop', rounds: ROUNDS, fileKib: 1024, pauseSeconds: 1 } });
  const folder = join(dir, VM);
  await mkdir(folder);
  await makeVmFolder(folder, VM, disk.raw, 'monolithicFlat');
  const vc = await startVcsim({ cwd: join(home, 'instant') });
  const first = await openServedEngine({ home, workerThreads: 2 });
  try {
    assert.equal((await runJob(first, await first.backups.start(folder, 'test'))).state, 'succeeded');
    await first.hosts.add({ kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true }, 'test');
  } finally {
    await first.close();
  }
  const lifeboat = async (...args: string[]): Promise<string> =>
    (await run(process.execPath, [cli, '--home', home, '--json', ...args], { timeout: 120_000 })).stdout;

  await withNfsPorts(async () => {
    // Every serve started here is stopped: a start that fails kills its process itself, the
    // killed one is awaited, and the finally ends the one running (also after() of the helper).
    const serves: ServeProcess[] = [await startServe(home)];
    // Set once, by the console callback (an array so TypeScript sees it can change there).
    const restarts: Promise<void>[] = [];
    let killedAtMs: number | null = null;
    let restartedAtMs: number | null = null;
    let resumedState: InstantSession | null = null;
    let restartError: unknown = null;
    const stopGuest = new AbortController();
    const sessionState = async (id: string): Promise<InstantSession | null> =>
      (JSON.parse(await lifeboat('instant', 'list')) as InstantSession[]).find((listed) => listed.id === id) ?? null;
    try {
      const session = JSON.parse(
        await lifeboat('instant', 'start', VM, '--point', 'latest', '--host', 'vc', '--allow', '127.0.0.1', '--listen', '127.0.0.1:2049'),
      ) as InstantSession;
      assert.equal(session.state, 'running');
      const drive = `${session.nfsUrl}/${VM}/${VM}-flat.vmdk`;
      const started = Date.now();
      const guest = await bootGuest({
        drive,
        timeoutMs: 150_000,
        append: disk.append,
        signal: stopGuest.signal,
        onLine: (line) => {
          if (restarts.length > 0 || !line.includes(`LIFEBOAT-GUEST ${KILL_AFTER}`)) return;
          restarts.push(
            (async () => {
              killedAtMs = Date.now() - started;
              await serves[0]?.kill('SIGKILL');
              serves.unshift(await startServe(home));
              restartedAtMs = Date.now() - started;
              // A session the new engine did not resume leaves the guest's I/O waiting forever
              // (libnfs has no RPC timeout): stop the boot now and fail on the session's state.
              resumedState = await sessionState(session.id);
              if (resumedState?.state !== 'running') stopGuest.abort();
            })().catch((error: unknown) => {
              restartError = error;
              stopGuest.abort();
            }),
          );
        },
      });
      assert.equal(restarts.length, 1, `the guest reached "${KILL_AFTER}" so the engine could be killed\n${describeRun(guest)}`);
      await Promise.all(restarts);
      if (restartError) throw restartError;
      const after = resumedState ?? (await sessionState(session.id));
      const resumed = `after the restart the session is ${after?.state ?? 'gone'}${after?.note ? ` (${after.note})` : ''}; engine back at ${restartedAtMs} ms`;
      // A session that was not resumed is no guest failure worth replaying: kept only for errors or a resumed session.
      const failed = guest.errors.length > 0 || (after?.state === 'running' && !hasMarker(guest, 'end'));
      if (failed) console.log(`guest failure saved in ${await saveFailure('instant-guest-restart', guest, disk, drive)}`);
      assert.equal(after?.state, 'running', `the session must be resumed by the new engine, not torn down: ${resumed}`);
      assert.deepEqual(guest.errors, [], `the guest saw I/O errors across the engine restart: ${resumed}\n${describeRun(guest)}`);
      assert.ok(hasMarker(guest, 'hashes-ok'), `the guest read its files intact\n${describeRun(guest)}`);
      for (let round = 1; round <= ROUNDS; round++)
        assert.ok(
          hasMarker(guest, `round ${round} ok`),
          `round ${round} wrote, synced and read back its data: ${resumed}\n${describeRun(guest)}`,
        );
      assert.ok(hasMarker(guest, 'end'), `the guest finished its script\n${describeRun(guest)}`);
      assert.equal(guest.exit.code, 0, `QEMU ended with the guest's poweroff\n${describeRun(guest)}`);

      console.log(
        `engine killed at ${killedAtMs} ms after QEMU started, serving again at ${restartedAtMs} ms; the guest ended at ${guest.durationMs} ms`,
      );
      // What the restarted engine serves holds every round's file: read over NFS, as a host would.
      const copy = join(dir, 'after-restart.raw');
      await run('nfs-cp', [drive, copy], { timeout: 120_000 });
      const names = Object.keys(guest.wrote);
      assert.equal(names.length, ROUNDS);
      assert.deepEqual(await hashesInImage(copy, '/out', names, join(dir, 'dump')), guest.wrote, 'the export holds what the guest wrote');
      await lifeboat('instant', 'stop', session.id);
    } finally {
      await Promise.all(restarts);
      // SIGTERM: a graceful shutdown closes 2049/111 (the session was stopped above, or is left
      // for a next engine of this temporary home) before the lock goes.
      for (const serve of serves) await serve.stop();
    }
  });
});
