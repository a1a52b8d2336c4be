// The engines that share a catalog (table engines, migration 25) and where each job runs
// (jobs.engine_id, jobs.shared). Whether an engine still lives is not a row: on PostgreSQL it is
// the lock its connection holds (PostgresCatalogDatabase.engineLives), which the server lets go
// when the engine dies, even by SIGKILL; on SQLite a home has one engine, this one.
import type { CatalogDatabase } from './database.ts';
import { LifeboatError } from '../errors.ts';
import { PostgresCatalogDatabase } from './postgres/postgres-database.ts';

export type EngineRecord = { id: string; host: string; pid: number; startedAt: string };
/** Which engine runs a job (null: a job written before engines were named), and whether any
 * engine of the group may run it (the shared queue) or only that one. */
export type JobPlacement = { engineId: string | null; shared: boolean };

type Row = { id: string; host: string; pid: number; started_at: string };

export class EngineCatalog {
  private readonly db: CatalogDatabase;
  private registered: string | null = null;

  /** This engine's id, once it has joined the catalog's engines (serve --shared). */
  get self(): string | null {
    return this.registered;
  }

  constructor(db: CatalogDatabase) {
    this.db = db;
  }

  /** Lists this engine (its id is fresh at each start). */
  register(engine: EngineRecord): void {
    this.db
      .prepare('INSERT INTO engines (id, host, pid, started_at) VALUES (?, ?, ?, ?)')
      .run(engine.id, engine.host, engine.pid, engine.startedAt);
    this.registered = engine.id;
    // Engines that stopped and no unfinished job names are forgotten (else every start asks after each).
    const quiet = this.db.prepare(
      "SELECT e.id FROM engines e WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.engine_id = e.id AND j.state IN ('queued', 'running', 'waiting-for-operator'))",
    );
    for (const { id } of quiet.all() as { id: string }[]) if (!this.lives(id)) this.db.prepare('DELETE FROM engines WHERE id = ?').run(id);
  }

  /** Does the engine with this id still run? A job of no named engine belongs to none that runs. */
  lives(engineId: string | null): boolean {
    if (engineId === null) return false;
    if (engineId === this.registered) return true;
    return this.db instanceof PostgresCatalogDatabase && this.db.engineLives(engineId);
  }

  /** The engines of the catalog that run now, this one among them. */
  running(): EngineRecord[] {
    return (this.db.prepare('SELECT * FROM engines ORDER BY started_at').all() as Row[])
      .filter((row) => this.lives(row.id))
      .map((row) => ({ id: row.id, host: row.host, pid: row.pid, startedAt: row.started_at }));
  }

  /** The other engines of the catalog that run now. */
  othersRunning(): EngineRecord[] {
    return this.running().filter((engine) => engine.id !== this.registered);
  }

  /** The engine and host named, for a message ("engine 1a2b3c4d on ws-2"). */
  describe(engineId: string | null): string {
    if (engineId === null) return 'an engine that has stopped';
    const row = this.db.prepare('SELECT host, pid FROM engines WHERE id = ?').get(engineId) as { host: string; pid: number } | undefined;
    return `engine ${engineId.slice(0, 8)}${row ? ` on ${row.host} (pid ${row.pid})` : ''}`;
  }

  /** Runs PostgreSQL's own SQL (the job queue's insert) on the catalog's connection, inside the
   * transaction open on it: see shared-queue.ts. */
  runQueueStatement(sql: string, params: unknown[]): void {
    if (!(this.db instanceof PostgresCatalogDatabase)) throw new LifeboatError('internal', 'the job queue lives in a PostgreSQL catalog');
    this.db.raw(sql, params);
  }

  /** One of a resource's `capacity` slots, held across the engines of a shared catalog (a proxy's
   * tasks), with its release; null when every slot is held (by any engine). On SQLite, or for a
   * lone engine, the engine's own count is the whole truth: always a slot. */
  takeSlot(resource: string, capacity: number): (() => void) | null {
    if (this.registered === null || !(this.db instanceof PostgresCatalogDatabase)) return () => undefined;
    const db = this.db;
    const slot = db.takeSlot(resource, capacity);
    if (slot === null) return null;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      db.releaseSlot(resource, slot);
    };
  }

  /** Whether an engine of a shared catalog holds a resource's one slot (takeSlot(resource, 1)),
   * this one included; null when the catalog is not shared: nobody else to ask. */
  heldByAnEngine(resource: string): boolean | null {
    if (this.registered === null || !(this.db instanceof PostgresCatalogDatabase)) return null;
    return this.db.slotHeld(resource, 0);
  }

  /** The queued jobs any engine may run (the shared queue's), by id. */
  sharedQueued(): Set<string> {
    const rows = this.db.prepare("SELECT id FROM jobs WHERE state = 'queued' AND shared = 1").all() as { id: string }[];
    return new Set(rows.map((row) => row.id));
  }

  placement(jobId: string): JobPlacement | null {
    const row = this.db.prepare('SELECT engine_id, shared FROM jobs WHERE id = ?').get(jobId) as
      { engine_id: string | null; shared: number } | undefined;
    return row ? { engineId: row.engine_id, shared: row.shared === 1 } : null;
  }

  /** Takes a shared job for this engine, in one statement that holds only if the job is still as
   * it was seen (its state, and the engine that held it): of two engines that saw it free, one
   * gets it. False: it changed meanwhile. */
  claimJob(job: { id: string; state: string }, heldBy: string | null): boolean {
    const sql = `UPDATE jobs SET state = 'running', engine_id = ? WHERE id = ? AND state = ? AND shared = 1 AND engine_id ${heldBy === null ? 'IS NULL' : '= ?'}`;
    const params = [this.registered, job.id, job.state, ...(heldBy === null ? [] : [heldBy])];
    return this.db.prepare(sql).run(...params).changes === 1;
  }

  /** The job stays with this engine (resumed here by the operator): out of the shared queue. */
  keepHere(jobId: string): void {
    this.db.prepare('UPDATE jobs SET engine_id = ?, shared = 0 WHERE id = ?').run(this.registered, jobId);
  }

  /** The host an engine ran on (null: unknown, or a job of no named engine). */
  hostOf(engineId: string | null): string | null {
    if (engineId === null) return null;
    return (this.db.prepare('SELECT host FROM engines WHERE id = ?').get(engineId) as { host: string } | undefined)?.host ?? null;
  }
}
