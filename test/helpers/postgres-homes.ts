// With LIFEBOAT_TEST_CATALOG=postgresql, every new home a test opens through openEngine gets its
// catalog on a fresh database of one PostgreSQL server per test file (started at the first such
// home, stopped as the file's process exits: after every hook, since engines closed by an `after`
// hook still write to their catalogs): `npm test`'s second pass runs engine-level tests this way, so the
// catalog's two backends answer the same tests.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { useCatalog } from '../../electron/home.ts';
import { startPostgres, type PostgresPeer } from '../../scripts/peers/postgresql.ts';

let server: Promise<PostgresPeer> | null = null;
let started: PostgresPeer | null = null;

process.once('exit', () => started?.stopSync());

export const catalogsOnPostgres = process.env.LIFEBOAT_TEST_CATALOG === 'postgresql';

/** Puts a new home's catalog on a fresh PostgreSQL database (on the second pass only). */
export async function placeCatalog(home: string): Promise<void> {
  if (!catalogsOnPostgres || existsSync(join(home, 'catalog.sqlite')) || existsSync(join(home, 'catalog.location'))) return;
  server ??= startPostgres().then((peer) => (started = peer));
  await useCatalog(home, await (await server).newDatabase());
}
