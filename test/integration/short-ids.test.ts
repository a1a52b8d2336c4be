// The console and the CLI show a job's first 8 characters; every request that names a job (or an
// Instant Recovery session) takes that short id, and one that fits two is refused, not guessed.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { asOwner } from '../helpers/owner.ts';
import { makeVmFolder, openEngine, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

test('short ids: requests naming a job take the 8 characters shown; an unknown one is not found, an ambiguous one refused', async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const engine = await openEngine(home);
  try {
    const source = join(dir, 'source');
    await mkdir(source);
    await writeMixedRaw(join(dir, 'disk.raw'), 2);
    await makeVmFolder(source, 'alpha', join(dir, 'disk.raw'), 'monolithicFlat');
    const job = await runJob(engine, await engine.backups.start(source, 'test'));
    const shown = job.id.slice(0, 8);
    const detail = (await dispatch(engine, asOwner(), 'jobs.get', { jobId: shown })) as { job: { id: string } };
    assert.equal(detail.job.id, job.id);
    const typed = (await dispatch(engine, asOwner(), 'jobs.get', { jobId: shown.toUpperCase() })) as { job: { id: string } };
    assert.equal(typed.job.id, job.id, 'typed in capitals');
    await assert.rejects(dispatch(engine, asOwner(), 'jobs.cancel', { jobId: 'ffffffff' }), { code: 'not-found' });
    await assert.rejects(dispatch(engine, asOwner(), 'jobs.get', { jobId: "x'; DROP TABLE jobs" }), { code: 'not-found' });
    await assert.rejects(dispatch(engine, asOwner(), 'instant.stop', { sessionId: shown }), { code: 'not-found' });

    // A second job whose id shares the first 10 characters: 10 no longer names one job.
    const twin = `${job.id.slice(0, 10)}${'f'.repeat(job.id.length - 10)}`.replace(/^(.{8})f/, '$1-').replace(/^(.{13})f/, '$1-');
    const db = new Database(join(home, 'catalog.sqlite'));
    try {
      db.exec('CREATE TEMP TABLE copied AS SELECT * FROM jobs WHERE 0');
      db.prepare('INSERT INTO copied SELECT * FROM jobs WHERE id = ?').run(job.id);
      db.prepare('UPDATE copied SET id = ?').run(twin);
      db.exec('INSERT INTO jobs SELECT * FROM copied');
    } finally {
      db.close();
    }
    await assert.rejects(dispatch(engine, asOwner(), 'jobs.get', { jobId: job.id.slice(0, 10) }), {
      code: 'conflict',
      message: /more than one job id starts with/,
    });
    const full = (await dispatch(engine, asOwner(), 'jobs.get', { jobId: job.id })) as { job: { id: string } };
    assert.equal(full.job.id, job.id);
  } finally {
    await engine.close();
  }
});
