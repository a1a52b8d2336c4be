// The PostgreSQL connection behind the catalog's synchronous face (sync-postgres.ts): this worker
// owns one `pg` client; the engine's thread posts a query on the port and sleeps on a shared flag
// until the answer is posted back. One query at a time, so one connection is enough.
import { workerData, type MessagePort } from 'node:worker_threads';
import pg from 'pg';
import { asBuffer } from './bytes.ts';

/** `id`: echoed by the reply. `guarded`: inside a transaction, the statement runs under a
 * savepoint, so that its failure fails it alone (as in SQLite) instead of aborting the whole
 * transaction. `bound`: inside a transaction, so a lost connection fails it rather than being
 * replaced. `keep`: a session lock (its first column true when taken) that every new connection
 * takes again, or the connection is refused: a lock let go with a lost connection is not silently
 * gone. */
export type QueryRequest = { id: number; sql: string; params: readonly unknown[]; guarded: boolean; bound: boolean; keep: boolean };
export type QueryReply =
  | { id: number; ok: true; rows: Record<string, unknown>[]; rowCount: number }
  | { id: number; ok: false; message: string; code: string | null; detail: string | null };

const { url, flag, port, readonly, statementTimeoutMs, keptLocks } = workerData as {
  url: string;
  flag: SharedArrayBuffer;
  port: MessagePort;
  readonly: boolean;
  statementTimeoutMs: number;
  /** The session locks this connection holds (see QueryRequest.keep), taken again on every new
   * connection; a worker that replaces a stuck one starts with its predecessor's. */
  keptLocks: { sql: string; params: unknown[] }[];
};
const signal = new Int32Array(flag);

// SQLite hands the catalog numbers; so does this: int8 (counts, sizes, ids) and numeric (sums),
// and a comparison's or EXISTS's boolean as SQLite's 1 or 0.
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20 || oid === 1700) return (value: string) => Number(value);
    if (oid === 16) return (value: string) => (value === 't' ? 1 : 0);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

let client: pg.Client | null = null;
let broken: string | null = null;

async function connected(): Promise<pg.Client> {
  if (client && broken === null) return client;
  await client?.end().catch(() => undefined);
  broken = null;
  const fresh = new pg.Client({ connectionString: url, types, connectionTimeoutMillis: 15_000 });
  fresh.on('error', (error: Error) => {
    broken = error.message;
  });
  await fresh.connect();
  // As SQLite's busy_timeout: a lock another engine holds is waited for, then the statement fails.
  await fresh.query("SET lock_timeout = '5s'");
  // The server gives up on a statement before the engine's thread gives up on the server.
  await fresh.query(`SET statement_timeout = ${Math.round(statementTimeoutMs)}`);
  if (readonly) await fresh.query('SET default_transaction_read_only = on');
  for (const lock of keptLocks) {
    const taken = await fresh.query({ text: lock.sql, values: lock.params, rowMode: 'array' });
    if (taken.rows[0]?.[0] !== 1) {
      await fresh.end().catch(() => undefined);
      throw Object.assign(new Error('a lock this connection held was let go with its lost connection, and another session holds it now'), {
        code: 'LOCK_LOST',
      });
    }
  }
  client = fresh;
  return fresh;
}

function answer(reply: QueryReply): void {
  port.postMessage(reply);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
}

port.on('message', (request: QueryRequest) => {
  void (async () => {
    try {
      // Inside a transaction a lost connection is the statement's failure: a new one would run it
      // outside the transaction, whose earlier work the server has already rolled back.
      if (request.bound && (client === null || broken !== null))
        throw Object.assign(new Error(`the connection was lost inside a transaction (${broken ?? 'not connected'}): it is rolled back`), {
          code: '08003',
        });
      const db = await connected();
      if (request.guarded) await db.query('SAVEPOINT lifeboat_statement');
      let result: pg.QueryResult | pg.QueryResult[];
      try {
        result = await db.query({ text: request.sql, values: request.params.map(asBuffer) });
      } catch (error) {
        if (request.guarded) await db.query('ROLLBACK TO SAVEPOINT lifeboat_statement').catch(() => undefined);
        throw error;
      }
      if (request.guarded) await db.query('RELEASE SAVEPOINT lifeboat_statement');
      // A script of several statements answers with one result each: the last one counts.
      const last = Array.isArray(result) ? (result.at(-1) as pg.QueryResult) : result;
      if (request.keep && last?.rows[0] !== undefined && Object.values(last.rows[0])[0] === 1)
        keptLocks.push({ sql: request.sql, params: request.params.map(asBuffer) });
      answer({ id: request.id, ok: true, rows: last?.rows ?? [], rowCount: last?.rowCount ?? 0 });
    } catch (error) {
      const failure = error as { message?: string; code?: string; detail?: string };
      answer({
        id: request.id,
        ok: false,
        message: failure.message ?? String(error),
        code: failure.code ?? null,
        detail: failure.detail ?? null,
      });
    }
  })();
});
