// The catalog's tests on both of its backends: a test file runs the same body against a SQLite
// catalog (a file in a fresh folder) and a PostgreSQL one (a fresh database on one server per test
// file, started when first asked for and stopped after the file's tests). Where PostgreSQL is not
// installed its variant is skipped with the reason, never passed without running.
//
//   for (const backend of catalogBackends())
//     test(`… (${backend.name})`, { skip: backend.skip }, async () => {
//       const catalog = await backend.open();
//       …
//     });
// A PostgreSQL catalog's audit anchors go to a fresh folder (Catalog.open's default, beside the
// catalog, is for a file).
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import { Catalog } from '../../electron/catalog/catalog.ts';
import { postgresMissing, startPostgres, type PostgresPeer } from '../../scripts/peers/postgresql.ts';
import { tempDir } from './env.ts';

export type CatalogBackend = {
  readonly name: 'sqlite' | 'postgresql';
  /** Why this backend's variant is skipped here (node:test's `skip` option), or false. */
  readonly skip: string | false;
  /** A new, empty catalog location: a SQLite file's path, or a fresh database's URL. */
  location(): Promise<string>;
  /** A new, empty catalog, opened (its audit anchors in a fresh folder of their own). */
  open(): Promise<Catalog>;
  /** The catalog at `location` (a second engine, or the same after a restart), anchored in `anchors`. */
  reopen(location: string, anchors: string): Catalog;
};

/** Where a catalog at `location` keeps its audit anchors in these tests. */
export async function anchorsIn(): Promise<string> {
  return join(await tempDir(), 'audit', 'anchors.log');
}

let peer: Promise<PostgresPeer> | null = null;

let stopRegistered = false;

/** Stops this file's server after all its tests: registered where the file's tests are declared
 * (an `after` registered inside a test would stop it at that test's end). */
function stopAfterAll(): void {
  if (stopRegistered) return;
  stopRegistered = true;
  after(async () => {
    if (peer !== null) await (await peer).stop();
  });
}

function server(): Promise<PostgresPeer> {
  peer ??= startPostgres();
  return peer;
}

/** A fresh, empty database on this file's PostgreSQL server, by URL. */
export async function freshPostgresDatabase(): Promise<string> {
  return (await server()).newDatabase();
}

/** Why PostgreSQL tests cannot run here, or false when they can. */
export function postgresSkip(): string | false {
  return postgresMissing() ?? false;
}

/** This file's PostgreSQL server, for tests that need more than a fresh catalog (an admin
 * connection, a database of their own): started when first asked for, stopped after the file's
 * tests. Call where tests are declared, as catalogBackends. */
export function postgresForThisFile(): { skip: string | false; server: () => Promise<PostgresPeer> } {
  const skip = postgresSkip();
  if (skip === false) stopAfterAll();
  return { skip, server };
}

/** Call where tests are declared (top level, or a describe body), not inside a test. */
export function catalogBackends(): CatalogBackend[] {
  const { skip } = postgresForThisFile();
  const reopen = (location: string, anchors: string) => Catalog.open(location, anchors);
  const sqlite = async () => join(await tempDir(), 'catalog.sqlite');
  return [
    { name: 'sqlite', skip: false, location: sqlite, open: async () => reopen(await sqlite(), await anchorsIn()), reopen },
    {
      name: 'postgresql',
      skip,
      location: freshPostgresDatabase,
      open: async () => reopen(await freshPostgresDatabase(), await anchorsIn()),
      reopen,
    },
  ];
}

/** `test(name, body)` once on each backend: "name (sqlite)" and "name (postgresql)", the second
 * skipped with its reason where PostgreSQL is not installed. */
export function catalogTest(name: string, body: (t: TestContext, backend: CatalogBackend) => Promise<void> | void): void {
  for (const backend of catalogBackends()) test(`${name} (${backend.name})`, { skip: backend.skip }, (t) => body(t, backend));
}
