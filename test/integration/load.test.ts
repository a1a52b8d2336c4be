// Load: 200 queued restores over 4 VMs run to the end without starvation or deadlock, never
// more at once than the engine allows and never two of one VM; then `serve` answers 50 console
// clients at once. Bounded counts, loopback only.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { Peer, osCaller } from '../../electron/auth/peer.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { startConsoleServer } from '../../electron/rpc/ws-server.ts';
import type { Job } from '../../shared/domain.ts';
import { finishedJobStates } from '../../shared/domain.ts';
import { makeVmFolder, openEngineWith, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const VMS = 4;
const RESTORES = 200;
const CLIENTS = 50;
const REQUESTS_PER_CLIENT = 20;

test(`${RESTORES} queued restores and ${CLIENTS} console clients`, async () => {
  const dir = await tempDir();
  const engine = await openEngineWith({ home: join(dir, 'home'), workerThreads: 2, concurrentJobs: 2 });
  for (let i = 0; i < VMS; i++) {
    const source = join(dir, `vm-${i}`);
    await mkdir(source);
    await writeMixedRaw(join(dir, `vm-${i}.raw`), 2, i);
    await makeVmFolder(source, `load-${i}`, join(dir, `vm-${i}.raw`), 'monolithicFlat');
    assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  }

  const running = new Map<string, Job>();
  let peak = 0;
  let sameVmOverlap = 0;
  const off = engine.events.on('job.updated', (job) => {
    if (job.state === 'running') {
      if ([...running.values()].some((other) => other.id !== job.id && other.vmId === job.vmId)) sameVmOverlap++;
      running.set(job.id, job);
      peak = Math.max(peak, running.size);
    } else if (finishedJobStates.has(job.state)) running.delete(job.id);
  });
  const started = Date.now();
  const jobs: Job[] = [];
  for (let i = 0; i < RESTORES; i++) {
    jobs.push(
      await engine.restores.start(
        { vm: `load-${i % VMS}`, point: 'latest', target: { kind: 'local', path: join(dir, 'out', String(i)) } },
        'test',
      ),
    );
  }
  const ended = await Promise.all(jobs.map((job) => runJob(engine, job)));
  off();
  const seconds = (Date.now() - started) / 1000;
  assert.deepEqual(
    ended.filter((job) => job.state !== 'succeeded').map((job) => job.error),
    [],
  );
  assert.equal(peak, 2, 'at most 2 jobs at once, and both slots were used');
  assert.equal(sameVmOverlap, 0, 'never two jobs of one VM at once');
  console.log(`load: ${RESTORES} restores in ${seconds.toFixed(1)} s, peak ${peak} running`);

  const server = await startConsoleServer(engine, { host: '127.0.0.1', port: 0, rendererDir: join(dir, 'no-console') });
  // The clients read as one viewer: signed in once, each console resumes that sign-in.
  await dispatch(engine, new Peer(osCaller()), 'accounts.add', { name: 'watcher', role: 'viewer', password: 'watcher-console-pw' });
  const { token } = (await dispatch(engine, new Peer(null), 'auth.login', { user: 'watcher', password: 'watcher-console-pw' })) as {
    token: string;
  };
  try {
    const answered = await Promise.all(
      Array.from(
        { length: CLIENTS },
        (_, client) =>
          new Promise<number>((resolve, reject) => {
            const socket = new WebSocket(`${server.origin.replace('http', 'ws')}/rpc`, { headers: { origin: server.origin } });
            let answers = 0;
            const timer = setTimeout(() => reject(new Error(`client ${client} timed out`)), 30_000);
            socket.on('open', () => socket.send(JSON.stringify({ type: 'hello', token: server.mintToken() })));
            socket.on('message', (data) => {
              const frame = JSON.parse(data.toString()) as { type: string; id?: number; ok?: boolean };
              if (frame.type === 'welcome') {
                socket.send(JSON.stringify({ type: 'request', id: REQUESTS_PER_CLIENT, channel: 'auth.resume', payload: { token } }));
              } else if (frame.type === 'response' && frame.id === REQUESTS_PER_CLIENT) {
                if (!frame.ok) reject(new Error(`client ${client} could not resume the sign-in`));
                for (let id = 0; id < REQUESTS_PER_CLIENT; id++)
                  socket.send(JSON.stringify({ type: 'request', id, channel: id % 2 ? 'vms.list' : 'jobs.list', payload: {} }));
              } else if (frame.type === 'response' && frame.ok) {
                answers++;
                if (answers === REQUESTS_PER_CLIENT) {
                  clearTimeout(timer);
                  socket.close();
                  resolve(answers);
                }
              }
            });
            socket.on('error', reject);
          }),
      ),
    );
    assert.equal(
      answered.reduce((sum, count) => sum + count, 0),
      CLIENTS * REQUESTS_PER_CLIENT,
    );
  } finally {
    await server.close();
  }
});
