// An engine whose home's catalog is on PostgreSQL (a real server, started here): backups and
// restores as on SQLite, disks judged by qemu-img; the same home reopened by a new engine and read
// by the read-only listing sees the same catalog; the audit chain verifies; a server that is gone
// is one clear error at open, and a server that goes away under a running engine does not bring
// it down.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../../electron/catalog/catalog.ts';
import { PostgresCatalogDatabase } from '../../electron/catalog/postgres/postgres-database.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { catalogLocation, useCatalog } from '../../electron/home.ts';
import { startPostgres } from '../../scripts/peers/postgresql.ts';
import { freshPostgresDatabase, postgresForThisFile } from '../helpers/catalog-backends.ts';
import { backupGenerations, qemuImg, runJob, tempDir } from '../helpers/env.ts';

const { skip, server } = postgresForThisFile();

/** Waits on this thread (a catalog's statements are synchronous), letting its worker see what the server did. */
const pause = (ms: number): void => void Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

test('backups and restores with the catalog on PostgreSQL; reopened and listed read-only, the same catalog', { skip }, async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const url = await freshPostgresDatabase();
  await useCatalog(home, url);
  assert.equal(catalogLocation(home), url);
  assert.equal((await readFile(join(home, 'catalog.location'), 'utf8')).trim(), url);

  const engine = await openServedEngine({ home, workerThreads: 2 });
  try {
    const generations = await backupGenerations(engine, dir, { name: 'alpha', generations: 2, mib: 16, subformat: 'monolithicSparse' });
    const points = engine.catalog.listPoints(engine.lookup.resolveVm('ALPHA').id);
    assert.deepEqual(
      points.map((point) => point.kind),
      ['incremental', 'full'],
      'newest first, and a VM name found whatever its case',
    );
    for (const point of points) {
      const target = join(dir, `restore-${point.sequence}`);
      const job = await runJob(
        engine,
        await engine.restores.start({ vm: 'alpha', point: String(point.sequence), target: { kind: 'local', path: target } }, 'test'),
      );
      assert.equal(job.state, 'succeeded', job.error ?? '');
      assert.match(
        qemuImg('compare', '-f', 'raw', '-F', 'vmdk', generations[point.sequence - 1] as string, join(target, 'alpha.vmdk')),
        /identical/,
      );
    }
    assert.equal(engine.catalog.verifyAudit().intact, true);
  } finally {
    await engine.close();
  }

  // The listing path with no engine: the catalog read-only, the same jobs.
  const readOnly = Catalog.openReadOnly(catalogLocation(home));
  assert.ok(readOnly, 'a PostgreSQL catalog at the newest schema opens read-only');
  try {
    assert.deepEqual(
      readOnly.listJobs(10).map((job) => [job.kind, job.state]),
      [
        ['restore-entire-vm', 'succeeded'],
        ['restore-entire-vm', 'succeeded'],
        ['index', 'succeeded'],
        ['backup', 'succeeded'],
        ['index', 'succeeded'],
        ['backup', 'succeeded'],
      ],
      'newest first, in the order they were made',
    );
    assert.throws(() => readOnly.audit('test', 'write.attempt', null, {}), /read-?only/i);
  } finally {
    readOnly.close();
  }

  const reopened = await openServedEngine({ home, workerThreads: 2 });
  // A second engine on the same catalog is refused while the first runs (until engines share a
  // job queue, it would take the first one's running jobs for interrupted).
  const second = join(dir, 'second-home');
  await useCatalog(second, url);
  await assert.rejects(openServedEngine({ home: second, workerThreads: 1 }), {
    code: 'conflict',
    message: /another engine uses the catalog/,
  });
  try {
    assert.equal(reopened.catalog.listPoints(reopened.lookup.resolveVm('alpha').id).length, 2);
    assert.equal(reopened.catalog.verifyAudit().intact, true);
  } finally {
    await reopened.close();
  }
  const secondEngine = await openServedEngine({ home: second, workerThreads: 1 });
  await secondEngine.close();
});

test(
  'a home with a SQLite catalog is not switched; a second URL is refused; a server that is gone is one clear error',
  { skip },
  async () => {
    const dir = await tempDir();
    const sqliteHome = join(dir, 'sqlite-home');
    const engine = await openServedEngine({ home: sqliteHome, workerThreads: 1 });
    await engine.close();
    await assert.rejects(useCatalog(sqliteHome, await freshPostgresDatabase()), {
      code: 'conflict',
      message: /lifeboat catalog migrate --from sqlite:/,
    });
    assert.equal(catalogLocation(sqliteHome), join(sqliteHome, 'catalog.sqlite'));

    const home = join(dir, 'home');
    await useCatalog(home, await freshPostgresDatabase());
    await assert.rejects(useCatalog(home, await freshPostgresDatabase()), { code: 'conflict' });
    await assert.rejects(useCatalog(join(dir, 'other'), 'mysql://somewhere/db'), { code: 'bad-request' });

    // A port nobody listens on: the open fails, naming the server, and no engine is left running.
    const gone = join(dir, 'gone');
    await useCatalog(gone, 'postgresql://postgres@127.0.0.1:1/none');
    await assert.rejects(openServedEngine({ home: gone, workerThreads: 1 }), { code: 'unavailable', message: /127\.0\.0\.1:1\/none/ });
  },
);

test(
  'a connection the server drops: outside a transaction the next statement reconnects; inside one, the transaction fails whole',
  { skip },
  async () => {
    const url = await freshPostgresDatabase();
    const database = new URL(url).pathname.slice(1);
    const db = new PostgresCatalogDatabase(url);
    const admin = new PostgresCatalogDatabase((await server()).url);
    /** Ends the catalog's connection from the server's side, and gives its worker a moment to see it. */
    const dropConnection = (): void => {
      admin.raw('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      pause(300);
    };
    try {
      db.raw('CREATE TABLE kept (n integer)');
      dropConnection();
      assert.deepEqual(db.raw('SELECT count(*) AS n FROM kept').rows, [{ n: 0 }], 'a new connection, outside a transaction');

      const insert = db.prepare('INSERT INTO kept (n) VALUES (?)');
      assert.throws(
        () =>
          db.transaction(() => {
            insert.run(1);
            dropConnection();
            insert.run(2); // on a new connection it would be committed alone, without the first
          })(),
        { code: 'unavailable', message: /lost inside a transaction/ },
      );
      assert.deepEqual(db.raw('SELECT n FROM kept').rows, [], 'nothing of the transaction is kept');
      db.transaction(() => insert.run(3))();
      assert.deepEqual(db.raw('SELECT n FROM kept').rows, [{ n: 3 }], 'the next transaction runs on a new connection');
    } finally {
      db.close();
      admin.close();
    }
  },
);

test(
  "an engine's claim is taken again on a new connection, or every statement fails; a server that stops answering is given up on, and the next statement gets its own answer",
  { skip },
  async () => {
    const url = await freshPostgresDatabase();
    const admin = new PostgresCatalogDatabase((await server()).url);
    const engineA = new PostgresCatalogDatabase(url, { answerWithinMs: 3000 });
    const engineB = new PostgresCatalogDatabase(url);
    const backendOf = (db: PostgresCatalogDatabase): number => Number(db.raw('SELECT pg_backend_pid() AS pid').rows[0]?.pid);
    try {
      assert.equal(engineA.claimForEngine(), true);
      assert.equal(engineB.claimForEngine(), false, 'held by A');

      // A's connection drops while nobody else takes the claim: A's next statement reconnects and holds it again.
      admin.raw('SELECT pg_terminate_backend($1)', [backendOf(engineA)]);
      pause(300);
      assert.deepEqual(engineA.raw('SELECT 1 AS one').rows, [{ one: 1 }]);
      assert.equal(engineB.claimForEngine(), false, 'A took its claim again with its new connection');

      // A server process that stops answering: A gives up after its limit, and the reply that comes
      // late is never taken for the answer to A's next statement.
      const stopped = backendOf(engineA);
      process.kill(stopped, 'SIGSTOP');
      try {
        assert.throws(() => engineA.raw('SELECT 41 AS answer'), { code: 'unavailable', message: /did not answer within 3 s/ });
      } finally {
        process.kill(stopped, 'SIGCONT');
      }
      admin.raw('SELECT pg_terminate_backend($1)', [stopped]);
      pause(300);
      assert.deepEqual(engineA.raw('SELECT 42 AS answer').rows, [{ answer: 42 }], 'its own answer, on a new connection');

      // A's connection drops and B takes the claim meanwhile: A's statements fail, never run unclaimed.
      admin.raw('SELECT pg_terminate_backend($1)', [backendOf(engineA)]);
      pause(300);
      assert.equal(engineB.claimForEngine(), true);
      assert.throws(() => engineA.raw('SELECT 1 AS one'), { code: 'unavailable', message: /another session holds it now/ });
    } finally {
      engineA.close();
      engineB.close();
      admin.close();
    }
  },
);

for (const shared of [false, true])
  test(
    `a server that goes away under ${shared ? 'a shared' : 'a lone'} engine with queued jobs does not bring it down; it still closes`,
    { skip },
    async () => {
      // A server of this test's own: the file's server serves the other tests.
      const own = await startPostgres();
      try {
        const dir = await tempDir();
        const home = join(dir, 'home');
        await useCatalog(home, await own.newDatabase());
        const engine = await openServedEngine({ home, workerThreads: 1, concurrentJobs: 1, shared });
        await backupGenerations(engine, join(dir, 'vm'), { name: 'vm', generations: 1, mib: 16, subformat: 'monolithicFlat' });
        for (let index = 0; index < 4; index++)
          await engine.restores.start({ vm: 'vm', point: 'latest', target: { kind: 'local', path: join(dir, `out-${index}`) } }, 'test');
        await own.stop();
        // The queue's timers (places, the next job, the shared looks) fire with the catalog
        // unreachable: an uncaught error there would end this process.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        await engine.close();
      } finally {
        await own.stop();
      }
    },
  );
