// Moving a home's SQLite catalog to PostgreSQL: at once with `lifeboat catalog migrate` (no engine
// running), or at the engine's next start, as the console's settings ask (channel catalog.move):
// a running engine cannot change the catalog under its own jobs. A move asked for is kept in the
// home's catalog.move-to (private: its URL may hold a password) and done by the next start, under
// the engine's claim of the home and before the catalog opens. A move that fails leaves the home on
// its SQLite catalog, as it was, and says why in catalog.move-failed.
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { describeLocation, isPostgresLocation } from '../catalog-location.ts';
import { LifeboatError } from '../errors.ts';
import { replaceFileDurably } from '../fs/durable.ts';
import { catalogLocation, homePaths, moveCatalogTo } from '../home.ts';
import { Catalog } from './catalog.ts';
import { checkpointSqlite, refuseUnlessEmpty, transferCatalog, type TableCheck, type TransferProgress } from './catalog-transfer.ts';

export const MOVE_ASKED_FILE = 'catalog.move-to';
export const MOVE_FAILED_FILE = 'catalog.move-failed';

const MoveAsked = z.object({ to: z.string(), askedBy: z.string(), askedAt: z.string() });
const MoveFailed = z.object({ at: z.string(), to: z.string(), message: z.string() });
export type MoveFailure = z.infer<typeof MoveFailed>;

export type MovedCatalog = { checks: TableCheck[]; setAside: string };

/** Copies the home's SQLite catalog into the empty database at `to`, checks every table, points the
 * home at it (the SQLite file kept aside) and records the move in the new catalog's audit log, by
 * `actor`. The caller holds the home (no engine writes the catalog meanwhile). */
export async function moveHomeCatalog(home: string, to: string, actor: string, progress?: TransferProgress): Promise<MovedCatalog> {
  const sqlite = join(home, 'catalog.sqlite');
  const checks = transferCatalog(sqlite, to, progress);
  checkpointSqlite(sqlite);
  const setAside = await moveCatalogTo(home, to);
  try {
    const catalog = Catalog.open(to, homePaths(home).auditAnchors);
    try {
      catalog.audit(actor, 'catalog.migrated', null, {
        from: sqlite,
        to: describeLocation(to),
        tables: checks.length,
        rows: checks.reduce((sum, check) => sum + check.rows, 0),
        keptAs: setAside,
      });
    } finally {
      catalog.close();
    }
  } catch (error) {
    // The move is done and checked; only its audit entry is missing, and saying the move failed would mislead.
    process.stderr.write(`lifeboat: the catalog moved, but its audit entry could not be written: ${(error as Error).message}\n`);
  }
  return { checks, setAside };
}

/** Asks for the home's catalog to move to `to` at the engine's next start, once `to` is known to be
 * an empty database this machine reaches. Refused for a home already on PostgreSQL. */
export async function askCatalogMove(home: string, to: string, askedBy: string, now = new Date()): Promise<void> {
  if (!isPostgresLocation(to)) throw new LifeboatError('bad-request', 'the catalog moves to a postgresql:// URL'); // never echoed: it may hold a password
  const current = catalogLocation(home);
  if (isPostgresLocation(current))
    throw new LifeboatError('conflict', `this home's catalog is already on PostgreSQL (${describeLocation(current)})`);
  refuseUnlessEmpty(to);
  await replaceFileDurably(join(home, MOVE_ASKED_FILE), `${JSON.stringify({ to, askedBy, askedAt: now.toISOString() })}\n`);
}

/** Withdraws a move asked for; false when none was. */
export async function withdrawCatalogMove(home: string): Promise<boolean> {
  const file = join(home, MOVE_ASKED_FILE);
  if (!existsSync(file)) return false;
  await rm(file, { force: true });
  return true;
}

/** The move the next start will make (its URL without a password), and why the last one failed. */
export function catalogMoveState(home: string): {
  asked: { to: string; askedBy: string; askedAt: string } | null;
  lastFailure: MoveFailure | null;
} {
  const asked = readJson(join(home, MOVE_ASKED_FILE), MoveAsked);
  return {
    asked: asked ? { ...asked, to: describeLocation(asked.to) } : null,
    lastFailure: readJson(join(home, MOVE_FAILED_FILE), MoveFailed),
  };
}

/** At an engine's start, under its claim of the home and before the catalog opens: makes the move
 * asked for, if any. A move that fails leaves the SQLite catalog in use and is not tried again. */
export async function makeAskedCatalogMove(home: string, warn: (line: string) => void): Promise<void> {
  const file = join(home, MOVE_ASKED_FILE);
  if (!existsSync(file)) return;
  const asked = readJson(file, MoveAsked);
  const failed = async (to: string, message: string): Promise<void> => {
    const failure: MoveFailure = { at: new Date().toISOString(), to: describeLocation(to), message };
    await replaceFileDurably(join(home, MOVE_FAILED_FILE), `${JSON.stringify(failure)}\n`);
    warn(`the catalog move asked for (to ${failure.to}) was not made: ${message}; the home keeps its SQLite catalog`);
  };
  try {
    if (!asked) await failed('(unreadable)', `${file} could not be read`);
    else if (isPostgresLocation(catalogLocation(home))) await failed(asked.to, "the home's catalog is already on PostgreSQL");
    else {
      const moved = await moveHomeCatalog(home, asked.to, asked.askedBy);
      await rm(join(home, MOVE_FAILED_FILE), { force: true });
      warn(`the catalog moved to ${describeLocation(asked.to)} (${moved.checks.length} tables checked); SQLite kept as ${moved.setAside}`);
    }
  } catch (error) {
    await failed(asked?.to ?? '(unreadable)', error instanceof Error ? error.message : String(error));
  } finally {
    await rm(file, { force: true });
  }
}

function readJson<T>(path: string, schema: z.ZodType<T>): T | null {
  if (!existsSync(path)) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
