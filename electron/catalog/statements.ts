// Prepared statements kept per database and SQL text. Preparing costs about a millisecond on a
// busy machine; the job, audit and Instant Recovery bookkeeping run the same few statements
// thousands of times when a hundred sessions start at once, all on the engine's one thread.
// Only for statements run with run/get/all (they finish before returning, so one statement is
// never in use twice at once); a statement iterated lazily must be prepared on its own.
import type { CatalogDatabase, CatalogStatement } from './database.ts';

const byDatabase = new WeakMap<CatalogDatabase, Map<string, CatalogStatement>>();

export function statementOf(db: CatalogDatabase, sql: string): CatalogStatement {
  let statements = byDatabase.get(db);
  if (!statements) {
    statements = new Map();
    byDatabase.set(db, statements);
  }
  let prepared = statements.get(sql);
  if (!prepared) {
    prepared = db.prepare(sql);
    statements.set(sql, prepared);
  }
  return prepared;
}
