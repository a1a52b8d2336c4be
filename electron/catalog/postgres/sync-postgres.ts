// A synchronous PostgreSQL connection. The catalog's callers are synchronous (better-sqlite3's
// model: a statement runs to its end before the next line), so the PostgreSQL backend keeps that
// face: the query is posted to a worker that owns the connection, and this thread sleeps on a
// shared flag (Atomics.wait) until the worker has posted the answer back.
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { LifeboatError } from '../../errors.ts';
import type { QueryReply, QueryRequest } from './postgres-worker.ts';

/** Longer than any lock wait (5 s) or a big index's insert: past it the server is taken for gone. */
const ANSWER_WITHIN_MS = 120_000;

export type QueryResult = { rows: Record<string, unknown>[]; rowCount: number };

/** A failure PostgreSQL reported, with its SQLSTATE (23505 unique violation, …). */
export class PostgresError extends Error {
  readonly sqlState: string | null;
  constructor(message: string, sqlState: string | null) {
    super(message);
    this.sqlState = sqlState;
  }
}

function workerUrl(): URL {
  const bundled = !import.meta.url.endsWith('.ts');
  return new URL(bundled ? './postgres-worker.mjs' : './postgres-worker.ts', import.meta.url);
}

export class SyncPostgres {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly signal: Int32Array;
  private readonly where: string;

  constructor(url: string, readonly = false) {
    this.where = describe(url);
    const flag = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    this.worker = new Worker(workerUrl(), { workerData: { url, flag, port: port2, readonly }, transferList: [port2] });
    this.worker.unref();
    this.port = port1;
    this.signal = new Int32Array(flag);
  }

  /** `guarded`: under a savepoint (see QueryRequest); `bound`: inside a transaction, so a lost
   * connection fails the statement instead of being replaced. */
  query(sql: string, params: readonly unknown[] = [], { guarded = false, bound = false } = {}): QueryResult {
    Atomics.store(this.signal, 0, 0);
    this.port.postMessage({ sql, params, guarded, bound } satisfies QueryRequest);
    if (Atomics.wait(this.signal, 0, 0, ANSWER_WITHIN_MS) === 'timed-out')
      throw new LifeboatError('unavailable', `the PostgreSQL catalog at ${this.where} did not answer within ${ANSWER_WITHIN_MS / 1000} s`);
    const received = receiveMessageOnPort(this.port);
    if (!received) throw new LifeboatError('internal', `the PostgreSQL catalog's worker signalled without an answer`);
    const reply = received.message as QueryReply;
    if (!reply.ok) {
      // No SQLSTATE (a socket error such as ECONNREFUSED), a connection class (08) or a shutdown (57P).
      if (reply.code === null || !/^[0-9A-Z]{5}$/.test(reply.code) || /^(08|57P)/.test(reply.code))
        throw new LifeboatError('unavailable', `the PostgreSQL catalog at ${this.where} cannot be reached: ${reply.message}`);
      throw new PostgresError(reply.detail ? `${reply.message} (${reply.detail})` : reply.message, reply.code);
    }
    return { rows: reply.rows.map(asSqliteGives), rowCount: reply.rowCount };
  }

  close(): void {
    this.port.close();
    void this.worker.terminate();
  }
}

/** A row as SQLite gives it: a BYTEA crossed the worker's port as a Uint8Array; SQLite gives a Buffer. */
function asSqliteGives(row: Record<string, unknown>): Record<string, unknown> {
  for (const [name, value] of Object.entries(row))
    if (value instanceof Uint8Array && !Buffer.isBuffer(value)) row[name] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return row;
}

/** host:port/database of a connection URL, without its password. */
export function describe(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return 'an unreadable URL';
  }
}
