// Moves a SQLite catalog into an empty PostgreSQL catalog without loss: every table copied in
// foreign-key order inside one PostgreSQL transaction, then checked (row count and a SHA-256 over
// the rows in a canonical order, each value serialised the same way on both sides) before the
// commit. Any difference rolls the whole copy back, so the target is left as empty as it was.
import Database from 'better-sqlite3';
import { createHash, type Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { LifeboatError } from '../errors.ts';
import { openCatalogDatabase } from './database.ts';
import { describeLocation } from '../catalog-location.ts';
import { newestVersion } from './migrations/index.ts';
import { PostgresCatalogDatabase, toParameter } from './postgres/postgres-database.ts';

/** One table as checked on both sides: its rows and the SHA-256 of them (hex). */
/** How long one statement of the copy may take: hours, not the engine's two minutes. */
const BULK_ANSWER_WITHIN_MS = 6 * 3600_000;

export type TableCheck = { table: string; rows: number; sha256: string };

export type TransferProgress = (table: string, copied: number, total: number) => void;

/** Rows per INSERT: PostgreSQL takes at most 65,535 parameters in one statement. */
const ROWS_PER_INSERT = 500;
const MAX_PARAMETERS = 60_000;
/** Rows the check reads from PostgreSQL at a time (a cursor: a big file index is never held whole). */
const ROWS_PER_FETCH = 10_000;

type SqliteColumn = { name: string; type: string; pk: bigint };
type PgColumn = { column_name: string; data_type: string; udt_name: string };

/** A table to copy, as both sides have it. */
type TablePlan = {
  name: string;
  columns: string[];
  /** SQLite's rowid goes into PostgreSQL's `rowid` column (kept insertion order). */
  copiesRowid: boolean;
  /** A rowid table in SQLite (a WITHOUT ROWID one is read in key order). */
  hasRowid: boolean;
  key: string[];
  pgTypes: Map<string, string>;
};

/** An FTS5 table whose rows are another table's (content=…), rebuilt from it on PostgreSQL. */
type ContentIndex = { name: string; column: string; content: string; contentRowid: string };

/** The home's SQLite catalog, read-only, with integers as bigint (an id past 2^53 stays exact). */
export function openSourceCatalog(path: string): Database.Database {
  if (!existsSync(path)) throw new LifeboatError('not-found', `no SQLite catalog at ${path}`);
  let source: Database.Database | null = null;
  let version: number;
  try {
    source = new Database(path, { readonly: true, fileMustExist: true });
    source.defaultSafeIntegers(true);
    source.pragma('busy_timeout = 5000');
    version = Number(source.pragma('user_version', { simple: true }));
    // A damaged file is refused whole before anything is copied, not found out table by table.
    const check = String(source.pragma('quick_check', { simple: true }));
    if (check !== 'ok') throw new Error(`SQLite's quick_check: ${check}`);
  } catch (error) {
    source?.close();
    throw new LifeboatError('invalid-source', `the SQLite catalog ${path} is damaged (${(error as Error).message}): nothing was moved`);
  }
  if (version !== newestVersion) {
    source.close();
    if (version > newestVersion)
      throw new LifeboatError('conflict', `${path} was written by a newer Lifeboat (schema ${version}, this one knows ${newestVersion})`);
    // Migrating it here would change the operator's fallback copy: the engine does it under its
    // claim of the home, and then the catalog moves as this Lifeboat knows it.
    throw new LifeboatError(
      'conflict',
      `${path} is at schema ${version}, this Lifeboat's is ${newestVersion}: open the home once with this Lifeboat (e.g. \`lifeboat --home <home> jobs\`), which migrates it, then move it`,
    );
  }
  return source;
}

/** Copies the SQLite catalog at `sqlitePath` into the empty PostgreSQL database at `url` (its
 * schema made at the newest version), checks it, and commits; the checks are returned. */
export function transferCatalog(sqlitePath: string, url: string, progress?: TransferProgress): TableCheck[] {
  const source = openSourceCatalog(sqlitePath);
  try {
    refuseUnlessEmpty(url);
    // A big file index's copy and checks take longer than an engine's statements may.
    const target = openCatalogDatabase(url, { answerWithinMs: BULK_ANSWER_WITHIN_MS });
    if (!(target instanceof PostgresCatalogDatabase))
      throw new LifeboatError('bad-request', `${describeLocation(url)} is not a PostgreSQL catalog`);
    try {
      // The snapshot read is one read transaction: every table as of one moment.
      source.exec('BEGIN');
      try {
        return target.transaction(() => copyAndCheck(source, target, progress))();
      } finally {
        source.exec('COMMIT');
      }
    } finally {
      target.close();
    }
  } finally {
    source.close();
  }
}

/** Refuses a target that holds any row: a copy is never merged into another catalog. */
export function refuseUnlessEmpty(url: string): void {
  const probe = new PostgresCatalogDatabase(url);
  try {
    let tables: { table_name: string }[];
    try {
      tables = probe.raw(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'lifeboat_schema_version'",
      ).rows as { table_name: string }[];
    } catch (error) {
      if (error instanceof LifeboatError) throw error;
      throw new LifeboatError('unavailable', `cannot reach ${describeLocation(url)}: ${(error as Error).message}`);
    }
    for (const { table_name: table } of tables) {
      if (probe.raw(`SELECT EXISTS (SELECT 1 FROM ${quote(table)}) AS found`).rows[0]?.found === 1)
        throw new LifeboatError(
          'conflict',
          `${describeLocation(url)} already holds catalog rows (table ${table}): the catalog moves only into an empty database`,
        );
    }
  } finally {
    probe.close();
  }
}

function copyAndCheck(source: Database.Database, target: PostgresCatalogDatabase, progress?: TransferProgress): TableCheck[] {
  const { tables, indexes } = sourceTables(source);
  const plans = tables.map((name) => planOf(source, target, name));
  for (const plan of plans) refusingWhatCannotMove(plan.name, () => copyTable(source, target, plan, progress));
  for (const index of indexes)
    target.raw(
      `INSERT INTO ${quote(index.name)} (rowid, ${quote(index.column)}) SELECT ${quote(index.contentRowid)}, ${quote(index.column)} FROM ${quote(index.content)}`,
    );
  // Copied rows keep their ids; the next row the engine inserts must get a new one.
  target.moveIdentitiesPastLargest();
  const checks: TableCheck[] = [];
  for (const plan of plans) {
    const want = hashSqlite(source, plan);
    const got = hashPostgres(target, plan);
    if (want.rows !== got.rows || want.sha256 !== got.sha256)
      // A value PostgreSQL keeps otherwise than SQLite (a damaged file can hold a REAL where the
      // schema says INTEGER; text holding a NUL) is the source's to fix; nothing is committed.
      throw new LifeboatError(
        'invalid-source',
        `table ${plan.name} cannot be moved as it is: it differs after the copy (SQLite: ${want.rows} rows, ${want.sha256.slice(0, 16)}; PostgreSQL: ${got.rows} rows, ${got.sha256.slice(0, 16)}), so nothing was committed; check the file with \`sqlite3 <file> 'PRAGMA integrity_check'\``,
      );
    checks.push({ table: plan.name, ...want });
  }
  return checks;
}

/** Runs one table's copy; a row PostgreSQL will not store or a page SQLite cannot read midway is
 * the operator's one clear error, naming the table; the copy's transaction is rolled back around
 * it. (Text holding a NUL, which SQLite keeps, goes in with U+FFFD: the tables' hashes differ.) */
function refusingWhatCannotMove(table: string, copy: () => void): void {
  try {
    copy();
  } catch (error) {
    if (error instanceof LifeboatError) throw error;
    throw new LifeboatError('invalid-source', `table ${table} cannot be moved as it is (${(error as Error).message}): nothing was moved`);
  }
}

/** The tables to copy, parents before children (from SQLite's own foreign keys), and the FTS5
 * tables to rebuild instead of copying (they and their shadow tables are SQLite's machinery). */
function sourceTables(source: Database.Database): { tables: string[]; indexes: ContentIndex[] } {
  const all = source
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
    .all() as {
    name: string;
    sql: string;
  }[];
  const virtual = all.filter((table) => /^\s*CREATE\s+VIRTUAL\s+TABLE/i.test(table.sql));
  const indexes = virtual.map(contentIndexOf);
  const isMachinery = (name: string) => virtual.some((table) => name === table.name || name.startsWith(`${table.name}_`));
  const names = all.map((table) => table.name).filter((name) => !isMachinery(name));
  const parents = new Map<string, Set<string>>();
  for (const name of names) {
    const referenced = source.prepare('SELECT DISTINCT "table" AS parent FROM pragma_foreign_key_list(?)').all(name) as {
      parent: string;
    }[];
    // A table referring to itself (a point's parent point) is ordered by its rowid instead.
    parents.set(name, new Set(referenced.map((row) => row.parent).filter((parent) => parent !== name && names.includes(parent))));
  }
  const ordered: string[] = [];
  const remaining = new Set([...names].sort());
  while (remaining.size > 0) {
    const ready = [...remaining].filter((name) => [...(parents.get(name) ?? [])].every((parent) => !remaining.has(parent)));
    if (ready.length === 0)
      throw new LifeboatError('internal', `the catalog's foreign keys form a cycle among ${[...remaining].join(', ')}`);
    for (const name of ready) {
      ordered.push(name);
      remaining.delete(name);
    }
  }
  return { tables: ordered, indexes };
}

function contentIndexOf(table: { name: string; sql: string }): ContentIndex {
  const content = /content\s*=\s*'(\w+)'/i.exec(table.sql)?.[1];
  const contentRowid = /content_rowid\s*=\s*'(\w+)'/i.exec(table.sql)?.[1] ?? 'rowid';
  const column = /\(\s*(\w+)\s*,/.exec(table.sql)?.[1];
  if (content === undefined || column === undefined)
    throw new LifeboatError('internal', `cannot move virtual table ${table.name}: only an external-content FTS5 table is rebuilt`);
  return { name: table.name, column, content, contentRowid };
}

function planOf(source: Database.Database, target: PostgresCatalogDatabase, name: string): TablePlan {
  const columns = source.prepare('SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid').all(name) as SqliteColumn[];
  const pg = target.raw(
    'SELECT column_name, data_type, udt_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1',
    [name],
  ).rows as PgColumn[];
  if (pg.length === 0) throw new LifeboatError('internal', `the PostgreSQL catalog has no table ${name}`);
  const pgTypes = new Map(pg.map((column) => [column.column_name, column.udt_name]));
  for (const column of columns)
    if (!pgTypes.has(column.name))
      throw new LifeboatError('internal', `the PostgreSQL catalog's table ${name} has no column ${column.name}`);
  const key = columns
    .filter((column) => column.pk > 0)
    .sort((a, b) => Number(a.pk) - Number(b.pk))
    .map((column) => column.name);
  const integerKey = key.length === 1 && columns.some((column) => column.name === key[0] && /^INTEGER$/i.test(column.type));
  const withoutRowid = /WITHOUT\s+ROWID/i.test(
    (source.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) as { sql: string }).sql,
  );
  return {
    name,
    columns: columns.map((column) => column.name),
    // An INTEGER PRIMARY KEY is the rowid itself, copied as the key.
    copiesRowid: !withoutRowid && !integerKey && pgTypes.has('rowid'),
    hasRowid: !withoutRowid,
    key,
    pgTypes,
  };
}

/** The order both sides are read in: the rowid kept, else the key, else every column. */
function orderColumns(plan: TablePlan): string[] {
  if (plan.copiesRowid) return ['rowid'];
  return plan.key.length > 0 ? plan.key : plan.columns;
}

function copiedColumns(plan: TablePlan): string[] {
  return plan.copiesRowid ? ['rowid', ...plan.columns] : plan.columns;
}

function copyTable(source: Database.Database, target: PostgresCatalogDatabase, plan: TablePlan, progress?: TransferProgress): void {
  const columns = copiedColumns(plan);
  const total = Number((source.prepare(`SELECT count(*) AS n FROM ${quote(plan.name)}`).get() as { n: bigint }).n);
  if (total === 0) return;
  // Rows in their insertion order (rowid), so a table ordered by it reads the same afterwards.
  const order = plan.hasRowid ? 'rowid' : plan.key.map(quote).join(', ');
  const rows = source
    .prepare(`SELECT ${columns.map(quote).join(', ')} FROM ${quote(plan.name)} ORDER BY ${order}`)
    .raw(true)
    .iterate() as IterableIterator<unknown[]>;
  const perInsert = Math.max(1, Math.min(ROWS_PER_INSERT, Math.floor(MAX_PARAMETERS / columns.length)));
  const head = `INSERT INTO ${quote(plan.name)} (${columns.map(quote).join(', ')}) OVERRIDING SYSTEM VALUE VALUES `;
  let batch: unknown[][] = [];
  let copied = 0;
  const flush = () => {
    const params: unknown[] = [];
    const tuples = batch.map((row) => `(${row.map((value) => `$${params.push(toParameter(value))}`).join(', ')})`);
    target.raw(head + tuples.join(', '), params);
    copied += batch.length;
    batch = [];
    progress?.(plan.name, copied, total);
  };
  for (const row of rows) {
    batch.push(row);
    if (batch.length === perInsert) flush();
  }
  if (batch.length > 0) flush();
}

function hashSqlite(source: Database.Database, plan: TablePlan): { rows: number; sha256: string } {
  const columns = copiedColumns(plan);
  const order = orderColumns(plan)
    .map((column) => `${quote(column)} COLLATE BINARY`)
    .join(', ');
  const statement = source.prepare(`SELECT ${columns.map(quote).join(', ')} FROM ${quote(plan.name)} ORDER BY ${order}`).raw(true);
  const hash = createHash('sha256');
  let rows = 0;
  for (const row of statement.iterate() as IterableIterator<unknown[]>) {
    hashRow(hash, row.map(serialiseSqlite));
    rows += 1;
  }
  return { rows, sha256: hash.digest('hex') };
}

function hashPostgres(target: PostgresCatalogDatabase, plan: TablePlan): { rows: number; sha256: string } {
  const columns = copiedColumns(plan);
  const typeOf = (column: string) => (column === 'rowid' ? 'int8' : (plan.pgTypes.get(column) ?? 'text'));
  // int8 as its digits: the connection reads it as a JavaScript number, inexact past 2^53.
  const select = columns.map((column, index) =>
    typeOf(column) === 'int8' ? `${quote(column)}::text AS c${index}` : `${quote(column)} AS c${index}`,
  );
  // Text in byte order (SQLite's BINARY), nulls first as SQLite has them.
  const order = orderColumns(plan).map((column) =>
    ['text', 'citext', 'varchar'].includes(typeOf(column))
      ? `${quote(column)}::text COLLATE "C" NULLS FIRST`
      : `${quote(column)} NULLS FIRST`,
  );
  target.raw(
    `DECLARE lifeboat_check NO SCROLL CURSOR FOR SELECT ${select.join(', ')} FROM ${quote(plan.name)} ORDER BY ${order.join(', ')}`,
  );
  const hash = createHash('sha256');
  let rows = 0;
  for (;;) {
    const fetched = target.raw(`FETCH ${ROWS_PER_FETCH} FROM lifeboat_check`).rows;
    if (fetched.length === 0) break;
    for (const row of fetched) {
      hashRow(
        hash,
        columns.map((column, index) => serialisePostgres(row[`c${index}`], typeOf(column))),
      );
      rows += 1;
    }
  }
  // Closed on success only: after a failure the transaction is rolled back, the cursor with it.
  target.raw('CLOSE lifeboat_check');
  return { rows, sha256: hash.digest('hex') };
}

function hashRow(hash: Hash, values: string[]): void {
  // Each value with its length, so no two different rows serialise alike.
  hash.update(values.map((value) => `${value.length}:${value}`).join('') + '\n');
}

/** A value as SQLite's storage class has it: I integer, R real, T text, B bytes (hex), N null. */
function serialiseSqlite(value: unknown): string {
  if (value === null || value === undefined) return 'N';
  if (typeof value === 'bigint') return `I${value}`;
  if (typeof value === 'number') return `R${value}`;
  if (typeof value === 'string') return `T${value}`;
  if (value instanceof Uint8Array) return `B${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  throw new LifeboatError('internal', `a SQLite value of an unknown kind (${typeof value})`);
}

/** The same serialisation from PostgreSQL's column type (int8 read as its digits). */
function serialisePostgres(value: unknown, type: string): string {
  if (value === null || value === undefined) return 'N';
  if (type === 'int8' || type === 'int4' || type === 'int2') return `I${String(value)}`;
  if (type === 'float8' || type === 'float4') return `R${Number(value)}`;
  if (type === 'bytea' && value instanceof Uint8Array)
    return `B${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  if (typeof value === 'string') return `T${value}`;
  throw new LifeboatError('internal', `a PostgreSQL value of type ${type} the check does not read`);
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Folds the SQLite catalog's write-ahead log into its file, so the file alone is the whole
 * catalog once it is set aside. */
export function checkpointSqlite(path: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}
