// A real PostgreSQL server for tests and the bench: Debian's PostgreSQL (initdb in a temporary
// folder, pg_ctl on a loopback port, trust authentication, fsync off: a test server's data may be
// lost with the machine). PostgreSQL refuses to run as root, so as root it runs as the `postgres`
// user and its folder is handed to that user. `stop()` stops it at once (`-m immediate`) and
// removes its folder.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';

const run = promisify(execFile);
const VERSIONS_DIR = '/usr/lib/postgresql';

export type PostgresPeer = {
  /** `postgresql://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  /** The URL of database `name` on this server. */
  urlOf(name: string): string;
  /** A new, empty database on this server (PostgreSQL's own createdb), by URL. */
  newDatabase(): Promise<string>;
  stop(): Promise<void>;
  /** The same, synchronously: for a process's 'exit', after every hook that still used it. */
  stopSync(): void;
};

/** The folder of the newest PostgreSQL's programs, or null when none is installed. */
export function postgresBin(): string | null {
  if (!existsSync(VERSIONS_DIR)) return null;
  const newest = readdirSync(VERSIONS_DIR)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(VERSIONS_DIR, name, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a))[0];
  return newest === undefined ? null : join(VERSIONS_DIR, newest, 'bin');
}

/** Why no PostgreSQL can be started here, or null when one can. */
export function postgresMissing(): string | null {
  return postgresBin() === null
    ? `PostgreSQL is not installed (no ${VERSIONS_DIR}/<version>/bin/pg_ctl): apt-get install postgresql`
    : null;
}

export async function startPostgres(): Promise<PostgresPeer> {
  const bin = postgresBin();
  if (bin === null) throw new Error(postgresMissing() ?? 'PostgreSQL is not installed');
  const dir = await mkdtemp('/tmp/lifeboat-pg-');
  const asRoot = userInfo().uid === 0;
  // As root, every PostgreSQL program runs as `postgres` (runuser), which must own the folder.
  const command = (program: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]] : [join(bin, program), args];
  const runAs = (program: string, args: string[]) => run(...command(program, args));
  try {
    if (asRoot) {
      const { stdout } = await run('id', ['-u', 'postgres']);
      const { stdout: group } = await run('id', ['-g', 'postgres']);
      await chown(dir, Number(stdout.trim()), Number(group.trim()));
    }
    const data = join(dir, 'data');
    await runAs('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const port = await freePort();
    const options = `-p ${port} -k ${dir} -h 127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200`;
    await runAs('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
    const urlOf = (name: string) => `postgresql://postgres@127.0.0.1:${port}/${name}`;
    let databases = 0;
    return {
      url: urlOf('postgres'),
      urlOf,
      async newDatabase() {
        const name = `lifeboat_${++databases}`;
        await runAs('createdb', ['-h', dir, '-p', String(port), '-U', 'postgres', name]);
        return urlOf(name);
      },
      async stop() {
        await runAs('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
      stopSync() {
        try {
          execFileSync(...command('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']), { stdio: 'ignore' });
        } catch {
          // already stopped
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
