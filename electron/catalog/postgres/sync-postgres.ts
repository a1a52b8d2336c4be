// A synchronous PostgreSQL connection. The catalog's callers are synchronous (better-sqlite3's
// model: a statement runs to its end before the next line), so the PostgreSQL backend keeps that
// face: the query is posted to a worker that owns the connection, and this thread sleeps on a
// shared flag (Atomics.wait) until the worker has posted the answer back.
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { LifeboatError } from '../../errors.ts';
import { asBuffer } from './bytes.ts';
import type { QueryReply, QueryRequest } from './postgres-worker.ts';

/** Longer than any lock wait (5 s) or a big index's insert: past it the server is taken for gone.
 * A bulk copy (catalog migrate) asks for more. */
const ANSWER_WITHIN_MS = 120_000;

export type SyncPostgresOptions = {
  readonly?: boolean;
  /** How long a statement may take; the server is told a little less (statement_timeout), so it
   * gives up on the statement before this side gives up on the server. */
  answerWithinMs?: number;
};

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
  private readonly url: string;
  private readonly where: string;
  private readonly readonly: boolean;
  private readonly answerWithinMs: number;
  private bridge: { worker: Worker; port: MessagePort; signal: Int32Array };
  /** Each request's number, echoed by its reply: a reply to an earlier request is never taken
   * for the answer to a later one. */
  private sequence = 0;
  /** The session locks taken (QueryRequest.keep), handed to a worker that replaces one. */
  private readonly keptLocks: { sql: string; params: unknown[] }[] = [];

  constructor(url: string, options: SyncPostgresOptions = {}) {
    this.url = url;
    this.where = describe(url);
    this.readonly = options.readonly ?? false;
    this.answerWithinMs = options.answerWithinMs ?? ANSWER_WITHIN_MS;
    this.bridge = this.startBridge();
  }

  private startBridge(): { worker: Worker; port: MessagePort; signal: Int32Array } {
    const flag = new SharedArrayBuffer(4);
    const { port1, port2 } = new MessageChannel();
    const statementTimeoutMs = Math.max(1000, this.answerWithinMs - 10_000);
    const worker = new Worker(workerUrl(), {
      workerData: { url: this.url, flag, port: port2, readonly: this.readonly, statementTimeoutMs, keptLocks: this.keptLocks },
      transferList: [port2],
    });
    worker.unref();
    return { worker, port: port1, signal: new Int32Array(flag) };
  }

  /** `guarded`: under a savepoint (see QueryRequest); `bound`: inside a transaction, so a lost
   * connection fails the statement instead of being replaced; `keep`: a session lock to take again
   * on every new connection (see QueryRequest). */
  query(sql: string, params: readonly unknown[] = [], { guarded = false, bound = false, keep = false } = {}): QueryResult {
    // A statement after close would wait its whole limit for a worker that is gone.
    if (this.closed) throw new LifeboatError('unavailable', `the PostgreSQL catalog at ${this.where} is closed`);
    const { port, signal } = this.bridge;
    const id = ++this.sequence;
    Atomics.store(signal, 0, 0);
    port.postMessage({ id, sql, params, guarded, bound, keep } satisfies QueryRequest);
    const deadline = Date.now() + this.answerWithinMs;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(signal, 0, 0, left) === 'timed-out') {
        // The worker may still be running the statement: it is ended (the server rolls back what
        // its connection had open) and a new one takes the next request.
        void this.bridge.worker.terminate();
        this.bridge.port.close();
        this.bridge = this.startBridge();
        throw new LifeboatError(
          'unavailable',
          `the PostgreSQL catalog at ${this.where} did not answer within ${this.answerWithinMs / 1000} s`,
        );
      }
      Atomics.store(signal, 0, 0);
      let received = receiveMessageOnPort(port);
      while (received && (received.message as QueryReply).id !== id) received = receiveMessageOnPort(port);
      if (received) {
        const answer = this.answerOf(received.message as QueryReply);
        if (keep && answer.rows[0] !== undefined && Object.values(answer.rows[0])[0] === 1)
          this.keptLocks.push({ sql, params: [...params] });
        return answer;
      }
    }
  }

  private answerOf(reply: QueryReply): QueryResult {
    if (!reply.ok) {
      // No SQLSTATE (a socket error such as ECONNREFUSED), a connection class (08) or a shutdown (57P).
      if (reply.code === null || !/^[0-9A-Z]{5}$/.test(reply.code) || /^(08|57P)/.test(reply.code))
        throw new LifeboatError('unavailable', `the PostgreSQL catalog at ${this.where} cannot be reached: ${reply.message}`);
      throw new PostgresError(reply.detail ? `${reply.message} (${reply.detail})` : reply.message, reply.code);
    }
    return { rows: reply.rows.map(asSqliteGives), rowCount: reply.rowCount };
  }

  private closed = false;

  close(): void {
    this.closed = true;
    this.bridge.port.close();
    void this.bridge.worker.terminate();
  }
}

/** A row as SQLite gives it: a BYTEA as a Buffer. */
function asSqliteGives(row: Record<string, unknown>): Record<string, unknown> {
  for (const [name, value] of Object.entries(row)) row[name] = asBuffer(value);
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
