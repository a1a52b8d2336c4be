// The catalog on PostgreSQL, with the face the catalog's code already uses for SQLite (prepare →
// run/get/all, transaction, exec; see CatalogDatabase): statements are written once in SQLite's
// dialect and translated here (dialect.ts); they run synchronously through sync-postgres.ts.
//
// Behaviour kept from SQLite:
// - a failed statement inside a transaction fails alone (it runs under a savepoint), and a
//   transaction inside a transaction is a savepoint;
// - errors name the constraint class as SQLite does ("UNIQUE constraint failed: …"), followed by
//   PostgreSQL's own words;
// - tables without an INTEGER PRIMARY KEY get a `rowid` identity (insertion order, as SQLite's
//   rowid), left out of rows unless a statement names it;
// - after each migration, identity counters move past the largest id (SQLite assigns max + 1).
// The schema version is a one-row table (SQLite keeps it in user_version). Migrations take an
// advisory lock, so two engines that open a new catalog at once apply each migration once.
import type { ArgumentsOf, CatalogDatabase, CatalogStatement, TransactionBody } from '../database-types.ts';
import { LifeboatError } from '../../errors.ts';
import type { Migration } from '../migrations/index.ts';
import { toPostgresQuery, toPostgresSchema } from './dialect.ts';
import { PostgresError, SyncPostgres, type QueryResult, type SyncPostgresOptions } from './sync-postgres.ts';

const MIGRATION_LOCK = 0x4c69666562; // "Lifeb"
const ENGINE_LOCK = 0x4c69666545; // "LifeE"
/** The first key of each shared engine's own lock (the second: its id's hash). */
const LIVING_ENGINES = 0x4c696665; // "Life"
/** The column an INSERT returns its rowid as (see returningRowid). */
const LAST_ROWID = 'lifeboat_last_rowid';

/** Created with the first migration: the extensions the translated schema uses, the version row,
 * and the two functions SQLite's side has in JavaScript or FTS5 (file-index.ts). */
const PRELUDE = String.raw`
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  CREATE EXTENSION IF NOT EXISTS citext;
  CREATE TABLE lifeboat_schema_version (version INTEGER NOT NULL);
  INSERT INTO lifeboat_schema_version VALUES (0);
  -- FTS5's phrase "…" ("" a quote) as an ILIKE pattern for a substring, LIKE's wildcards escaped.
  CREATE FUNCTION lifeboat_phrase_like(phrase text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '%' || regexp_replace(replace(substr(phrase, 2, length(phrase) - 2), '""', '"'), '([\\%_])', '\\\1', 'g') || '%'
  $$;
  -- As namePattern: without * or ? the name contains the pattern; with them the whole name
  -- matches (* any run, ? one character); case folded.
  -- A boolean (WHERE takes nothing else), which a row gives as 1 or 0 (postgres-worker.ts); case
  -- folded by ICU's root collation, beyond ASCII as the JavaScript one (a C database folds ASCII alone).
  CREATE FUNCTION name_matches(pattern text, name text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN pattern !~ '[*?]' THEN strpos(lower(name COLLATE "und-x-icu"), lower(pattern COLLATE "und-x-icu")) > 0
    ELSE (name COLLATE "und-x-icu" ~* ('^' || replace(replace(
      regexp_replace(regexp_replace(pattern, '\*+', '*', 'g'), '([.+^$(){}|\[\]\\/])', '\\\1', 'g'),
      '*', '.*'), '?', '.') || '$')) END
  $$;
`;

/** SQLite's words for the constraint classes, so callers and operators read one kind of message. */
const SQLITE_WORDS: Record<string, string> = {
  '23505': 'UNIQUE constraint failed',
  '23503': 'FOREIGN KEY constraint failed',
  '23514': 'CHECK constraint failed',
  '23502': 'NOT NULL constraint failed',
  '22P02': 'datatype mismatch: cannot store TEXT value in INTEGER column',
  '55P03': 'database is locked',
  '25006': 'attempt to write a readonly database',
};

/** A slot's advisory lock key ($1 of SLOT_LOCK; pg_advisory_lock(hashtext($1), slot)). */
const slotKey = (resource: string): string => `lifeboat-slot:${resource}`;
/** The rows of the server's lock table that are the lock on slot $2 of key $1: a two-key advisory
 * lock, whose keys pg_locks shows as classid and objid (objsubid 2). */
const SLOT_LOCK = `locktype = 'advisory' AND objsubid = 2
  AND classid = (hashtext($1)::bigint & 4294967295)::oid AND objid = $2::int::bigint::oid`;

export class PostgresCatalogDatabase implements CatalogDatabase {
  readonly readonly: boolean;
  private readonly connection: SyncPostgres;
  private depth = 0;
  private readonly translated = new Map<string, string>();
  private readonly primaryKeys = new Map<string, readonly string[]>();

  constructor(url: string, options: SyncPostgresOptions = {}) {
    this.readonly = options.readonly ?? false;
    this.connection = new SyncPostgres(url, options);
  }

  prepare(sql: string): CatalogStatement {
    return new PostgresStatement(this, sql);
  }

  /** Runs one statement written in SQLite's dialect. */
  query(sql: string, params: readonly unknown[]): QueryResult {
    let text = this.translated.get(sql);
    if (text === undefined) {
      text = this.returningRowid(toPostgresQuery(sql, (table) => this.primaryKeyOf(table)));
      this.translated.set(sql, text);
    }
    const result = this.raw(text, params.map(toParameter), this.depth > 0);
    const last = result.rows.at(-1)?.[LAST_ROWID];
    if (typeof last === 'number') this.lastRowid = last;
    return result;
  }

  /** The rowid of the last row inserted on this connection, as SQLite's last_insert_rowid(): an
   * INSERT that inserted nothing (ON CONFLICT DO NOTHING) leaves it as it was. */
  lastRowid = 0;

  /** An INSERT into a table with an identity (an INTEGER PRIMARY KEY, or the rowid SQLite would
   * give it) returns it, so run() can tell lastInsertRowid of this very statement. */
  private returningRowid(text: string): string {
    const insert = /^\s*INSERT\s+INTO\s+([A-Za-z_]\w*)/i.exec(text);
    if (insert === null || /\bRETURNING\b/i.test(text)) return text;
    const identity = this.identityOf(insert[1] as string);
    return identity === null ? text : `${text.replace(/;\s*$/, '')} RETURNING ${identity} AS ${LAST_ROWID}`;
  }

  private readonly identities = new Map<string, string | null>();

  private identityOf(table: string): string | null {
    let column = this.identities.get(table);
    if (column === undefined) {
      column =
        (
          this.raw(
            "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES'",
            [table],
          ).rows[0] as { name: string } | undefined
        )?.name ?? (table === 'file_names' ? 'rowid' : null);
      this.identities.set(table, column);
    }
    return column;
  }

  /** Runs PostgreSQL's own SQL; a failure is named as SQLite would name it. Inside a transaction
   * the statement is bound to its connection: one that was lost is not silently replaced (the
   * statement would run outside the transaction, the transaction's earlier work already gone). */
  raw(sql: string, params: readonly unknown[] = [], guarded = false): QueryResult {
    try {
      return this.connection.query(sql, params, { guarded, bound: this.depth > 0 });
    } catch (error) {
      if (error instanceof PostgresError && error.sqlState !== null && SQLITE_WORDS[error.sqlState] !== undefined)
        throw new PostgresError(`${SQLITE_WORDS[error.sqlState]} (PostgreSQL: ${error.message})`, error.sqlState);
      throw error;
    }
  }

  exec(sql: string): void {
    this.raw(toPostgresSchema(sql));
  }

  transaction<F extends TransactionBody>(fn: F): (...params: ArgumentsOf<F>) => ReturnType<F> {
    return (...args: ArgumentsOf<F>): ReturnType<F> => {
      const savepoint = `lifeboat_nested_${this.depth}`;
      const outermost = this.depth === 0;
      this.raw(outermost ? 'BEGIN' : `SAVEPOINT ${savepoint}`);
      this.depth += 1;
      try {
        const result = fn(...args) as ReturnType<F>;
        this.raw(outermost ? 'COMMIT' : `RELEASE SAVEPOINT ${savepoint}`);
        return result;
      } catch (error) {
        try {
          this.raw(outermost ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT ${savepoint}`);
        } catch (rollback) {
          // A lost connection took the transaction with it: the first failure is the one to tell.
          if (!(rollback instanceof LifeboatError && rollback.code === 'unavailable')) throw rollback;
        }
        throw error;
      } finally {
        this.depth -= 1;
      }
    };
  }

  /** Takes the catalog for an engine, with a session advisory lock held while the connection
   * lives and let go by the server when it ends, even if the engine is killed. A lone engine
   * (`sharedAs` null) takes it alone: a second one would take the first one's running jobs for
   * interrupted at its start. Engines that share a job queue (`lifeboat serve --shared`) take it
   * shared, each with a lock of its own besides, which tells the others it lives (engineLives).
   * False when the claim is held the other way. A connection that is lost and made again takes its
   * locks again, or fails every statement: a claim is never silently gone. */
  claimForEngine(sharedAs: string | null = null): boolean {
    if (sharedAs === null)
      return this.connection.query(`SELECT pg_try_advisory_lock(${ENGINE_LOCK}) AS claimed`, [], { keep: true }).rows[0]?.claimed === 1;
    const claimed = this.connection.query(`SELECT pg_try_advisory_lock_shared(${ENGINE_LOCK}) AS claimed`, [], { keep: true });
    if (claimed.rows[0]?.claimed !== 1) return false;
    const own = this.connection.query(`SELECT pg_try_advisory_lock(${LIVING_ENGINES}, hashtext($1)) AS claimed`, [sharedAs], {
      keep: true,
    });
    if (own.rows[0]?.claimed !== 1) throw new LifeboatError('conflict', `an engine with the id ${sharedAs} already runs`);
    this.sharedAs = sharedAs;
    return true;
  }

  private sharedAs: string | null = null;

  /** Whether the engine with this id still holds its lock (see claimForEngine): an engine killed
   * with SIGKILL, or cut off from the server, has let go of it. */
  engineLives(engineId: string): boolean {
    if (engineId === this.sharedAs) return true;
    const free = this.raw(`SELECT pg_try_advisory_lock(${LIVING_ENGINES}, hashtext($1)) AS free`, [engineId]).rows[0]?.free === 1;
    if (free) this.raw(`SELECT pg_advisory_unlock(${LIVING_ENGINES}, hashtext($1))`, [engineId]);
    return !free;
  }

  /** Takes the first free one of `capacity` slots of a resource shared by engines (a proxy's
   * tasks): a session advisory lock, let go by release or when the engine dies. Null: all taken. */
  takeSlot(resource: string, capacity: number): number | null {
    for (let slot = 0; slot < capacity; slot++) {
      // A session takes its own advisory lock again without waiting: a slot this session holds is
      // skipped, as the server's lock table says (a connection made again holds none of them).
      const taken = this.raw(
        `SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE ${SLOT_LOCK} AND pid = pg_backend_pid())
         THEN false ELSE pg_try_advisory_lock(hashtext($1), $2::int) END AS taken`,
        [slotKey(resource), slot],
      ).rows[0]?.taken;
      if (taken === 1) return slot;
    }
    return null;
  }

  /** Whether any session of this database holds a slot, read from the server's lock table: asking
   * takes nothing, so an engine about to take the slot is never turned away by the question. */
  slotHeld(resource: string, slot: number): boolean {
    return (
      this.raw(
        `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE ${SLOT_LOCK} AND granted
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS held`,
        [slotKey(resource), slot],
      ).rows[0]?.held === 1
    );
  }

  /** Lets a slot go; one this session no longer holds (its connection was made again) is let go already. */
  releaseSlot(resource: string, slot: number): void {
    this.raw(`SELECT pg_advisory_unlock(hashtext($1), $2::int) FROM pg_locks WHERE ${SLOT_LOCK} AND pid = pg_backend_pid()`, [
      slotKey(resource),
      slot,
    ]);
  }

  schemaVersion(): number {
    const exists = this.raw("SELECT to_regclass('lifeboat_schema_version') IS NOT NULL AS present").rows[0];
    if (exists?.present !== 1) return 0;
    return Number(this.raw('SELECT version FROM lifeboat_schema_version').rows[0]?.version ?? 0);
  }

  /** Applies the migrations after the catalog's version up to `target`, each in a transaction
   * holding the migration lock (another engine's migration is waited for, then not repeated). */
  migrateTo(migrations: readonly Migration[], target: number): void {
    for (const migration of migrations) {
      if (migration.version > target) break;
      this.transaction(() => {
        // Another engine's migration is waited for (to the statement timeout), not failed after 5 s.
        this.raw('SET LOCAL lock_timeout = 0');
        this.raw(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
        const current = this.schemaVersion();
        if (migration.version <= current) return;
        if (current === 0) this.raw(PRELUDE);
        this.raw(toPostgresSchema(migration.sql));
        this.moveIdentitiesPastLargest();
        this.raw('UPDATE lifeboat_schema_version SET version = $1', [migration.version]);
      })();
    }
    this.primaryKeys.clear();
    this.identities.clear();
    this.translated.clear();
  }

  /** Sets every identity counter past its column's largest value: rows copied in keep their ids,
   * and the next one inserted without an id must not collide with them. Never backwards: a
   * counter already past the largest value (ids taken and not yet committed) stays past it. */
  moveIdentitiesPastLargest(): void {
    const identities = this.raw(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES'",
    ).rows as { table_name: string; column_name: string }[];
    for (const { table_name: table, column_name: column } of identities)
      this.raw(
        `SELECT setval(counter, GREATEST(COALESCE((SELECT max("${column}") FROM "${table}"), 0) + 1, nextval(counter)), false) FROM pg_get_serial_sequence('"${table}"', '${column}') AS counter`,
      );
  }

  private primaryKeyOf(table: string): readonly string[] {
    let key = this.primaryKeys.get(table);
    if (key === undefined) {
      key = (
        this.raw(
          `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
           WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
          [table],
        ).rows as { name: string }[]
      ).map((row) => row.name);
      this.primaryKeys.set(table, key);
    }
    return key;
  }

  /** Lets go of every lock this session holds before the connection ends: the server ends the
   * session a moment after the connection closes, and until then another engine would still see
   * this one's proxy tasks, tape drives and claim as held. Whatever that fails of (a lost
   * connection holds nothing), the server lets go when the session ends. */
  close(): void {
    try {
      this.raw('SELECT pg_advisory_unlock_all()');
    } catch {
      // The session's end lets go of the locks as well, only later.
    } finally {
      this.connection.close();
    }
  }
}

class PostgresStatement implements CatalogStatement {
  private readonly db: PostgresCatalogDatabase;
  private readonly sql: string;
  private readonly namesRowid: boolean;

  constructor(db: PostgresCatalogDatabase, sql: string) {
    this.db = db;
    this.sql = sql;
    // Only a row whose select list names rowid gives it (as SQLite's SELECT * leaves it out).
    this.namesRowid = /\browid\b/i.test(selectList(sql));
  }

  run(...params: unknown[]): { changes: number; lastInsertRowid: number } {
    const { rowCount } = this.db.query(this.sql, params);
    return { changes: rowCount, lastInsertRowid: this.db.lastRowid };
  }

  get(...params: unknown[]): unknown {
    return this.all(...params)[0];
  }

  all(...params: unknown[]): unknown[] {
    const { rows } = this.db.query(this.sql, params);
    if (this.namesRowid) {
      for (const row of rows) delete row[LAST_ROWID];
      return rows;
    }
    for (const row of rows) {
      delete row.rowid;
      delete row[LAST_ROWID];
    }
    return rows;
  }
}

/** A query's text up to its first FROM (a statement without one: all of it). */
function selectList(sql: string): string {
  const from = /\bFROM\b/i.exec(sql);
  return from === null ? sql : sql.slice(0, from.index);
}

/** Values as SQLite binds them: a bigint as its digits, undefined as NULL. PostgreSQL's text
 * cannot hold U+0000, which a damaged guest file system can put in a name that reaches a job's
 * log or an index gap: such a string is kept with U+FFFD in its place, where refusing it would
 * fail the whole write (the file index makes the same change on both backends: file-index.ts). */
export function toParameter(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string' && value.includes('\u0000')) return value.replaceAll('\u0000', '\uFFFD');
  return value === undefined ? null : value;
}
