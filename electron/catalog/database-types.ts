// The face the catalog's code sees of its database, whichever backend it is: apart from
// database.ts (which opens either) so the PostgreSQL backend can give this face without importing
// its opener.

/** A prepared statement, as both backends run it: to its end before returning. */
export interface CatalogStatement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

// better-sqlite3's own constraint on a transaction's function, so its Database fits the interface.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TransactionBody = (...params: any[]) => unknown;
export type ArgumentsOf<F extends TransactionBody> = F extends (...params: infer A) => unknown ? A : never;

/** What the catalog asks of its database: better-sqlite3's Database has this shape, and the
 * PostgreSQL backend gives it too (postgres/postgres-database.ts). */
export interface CatalogDatabase {
  readonly readonly: boolean;
  prepare(sql: string): CatalogStatement;
  transaction<F extends TransactionBody>(fn: F): (...params: ArgumentsOf<F>) => ReturnType<F>;
  exec(sql: string): unknown;
  close(): unknown;
}
