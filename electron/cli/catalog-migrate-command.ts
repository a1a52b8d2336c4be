// `lifeboat catalog migrate --from sqlite:<home> --to postgresql://…`: moves a home's SQLite
// catalog into an empty PostgreSQL database (catalog/catalog-transfer.ts copies and checks it),
// then points the home at it. No engine opens: the command holds the home's socket (its lock)
// meanwhile, so no engine can write the catalog while it is copied.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { osCaller } from '../auth/peer.ts';
import { identityLabel } from '../auth/roles.ts';
import { moveHomeCatalog, type MovedCatalog } from '../catalog/catalog-move.ts';
import { describeLocation, isPostgresLocation } from '../catalog-location.ts';
import { LifeboatError } from '../errors.ts';
import { catalogLocation, homePaths, moveCatalogTo } from '../home.ts';
import { listenLocalSocket, type LocalSocketServer } from '../rpc/local-socket.ts';
import { UsageError, type Output } from './cli-output.ts';
import type { CliValues } from './options.ts';

/** Tables smaller than this copy too fast for progress lines to help. */
const PROGRESS_FROM_ROWS = 50_000;

export async function catalogCommand(rest: string[], values: CliValues, out: Output): Promise<number> {
  if (rest[0] !== 'migrate' || rest.length > 1)
    throw new UsageError('usage: lifeboat catalog migrate --from sqlite:<home> --to postgresql://…');
  const { from, to } = values;
  if (from === undefined || !from.startsWith('sqlite:') || from.length === 'sqlite:'.length)
    throw new UsageError('--from takes sqlite:<home folder>, the home whose catalog.sqlite moves');
  if (to === undefined || !isPostgresLocation(to)) throw new UsageError('--to takes the postgresql:// URL of an empty database');
  const home = resolve(from.slice('sqlite:'.length));
  const sqlite = join(home, 'catalog.sqlite');
  if (existsSync(join(home, 'catalog.location'))) {
    // A move that stopped after pointing the home at PostgreSQL only has the SQLite file to set aside.
    if (catalogLocation(home) === to && existsSync(sqlite)) return finishSettingAside(home, to, out);
    throw new LifeboatError('conflict', `${home}'s catalog is already on PostgreSQL (${join(home, 'catalog.location')})`);
  }
  if (!existsSync(sqlite)) throw new LifeboatError('not-found', `${home} has no SQLite catalog (no ${sqlite})`);

  const claim = await claimHome(home);
  const started = Date.now();
  let moved: MovedCatalog;
  try {
    // The command opens no engine, so no sign-in is asked: whoever can write the home could copy its catalog anyway.
    moved = await moveHomeCatalog(home, to, identityLabel(osCaller()), (table, copied, total) => {
      if (total >= PROGRESS_FROM_ROWS && !out.json) process.stderr.write(`${table}: ${copied}/${total} rows\n`);
    });
  } finally {
    await claim.close();
  }
  const { checks, setAside } = moved;
  const seconds = (Date.now() - started) / 1000;
  const human = [['TABLE', 'ROWS', 'SHA-256'], ...checks.map((check) => [check.table, String(check.rows), check.sha256.slice(0, 16)])];
  const widths = [0, 1].map((column) => Math.max(...human.map((row) => (row[column] as string).length)));
  const lines = human.map(
    ([table, rows, hash]) => `${(table as string).padEnd(widths[0] as number)}  ${(rows as string).padStart(widths[1] as number)}  ${hash}`,
  );
  lines.push(
    `moved to ${describeLocation(to)} in ${seconds.toFixed(1)} s, every table's rows and hash checked; the SQLite catalog is kept as ${setAside}`,
  );
  out.print(lines.join('\n'), { to: describeLocation(to), seconds, setAside, tables: checks });
  return 0;
}

/** Sets the SQLite file aside for a move whose copy was committed and whose home already points at
 * PostgreSQL (the command stopped in between). */
async function finishSettingAside(home: string, to: string, out: Output): Promise<number> {
  const claim = await claimHome(home);
  try {
    const setAside = await moveCatalogTo(home, to);
    out.print(`the move to ${describeLocation(to)} was already committed; the SQLite catalog is now kept as ${setAside}`, {
      to: describeLocation(to),
      setAside,
      tables: [],
    });
    return 0;
  } finally {
    await claim.close();
  }
}

/** The home's socket, held as an engine holds it: refused while an engine serves the home, and
 * an engine (or a CLI command) starting meanwhile is told the home is busy. */
async function claimHome(home: string): Promise<LocalSocketServer> {
  try {
    return await listenLocalSocket(() => null, homePaths(home).socket);
  } catch (error) {
    if (error instanceof LifeboatError && error.code === 'conflict')
      throw new LifeboatError(
        'conflict',
        `an engine serves ${home} and could write its catalog meanwhile: stop it (\`lifeboat serve\`, the app) and run the migration again`,
      );
    throw error;
  }
}
