// Runs a Node program with a module loader hook that records every module it loads: how the CLI
// tests check what a command loads (never how long it takes).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from './env.ts';

const root = join(import.meta.dirname, '..', '..');

/** Records the URL of every module the process loads and writes them to $LOADED_MODULES at exit. */
const loaderHook = `data:text/javascript,${encodeURIComponent(
  "import { registerHooks } from 'node:module'; import { writeFileSync } from 'node:fs'; const seen = [];" +
    ' registerHooks({ load(url, context, next) { seen.push(url); return next(url, context); } });' +
    " process.on('exit', () => writeFileSync(process.env.LOADED_MODULES, JSON.stringify(seen)));",
)}`;

export type Ran = { stdout: string; stderr: string; status: number; loaded: string[] };

/** Runs `node <entry> ...args` with the hook; what it printed, its exit status and the files it
 * loaded, relative to the project. Rejects on a non-zero exit unless `anyExit` (a refusal is what
 * the test looks at). */
export async function runRecordingModules(entry: string, args: string[], { anyExit = false } = {}): Promise<Ran> {
  const record = join(await tempDir(), 'loaded.json');
  const ran = await promisify(execFile)(process.execPath, ['--import', loaderHook, entry, ...args], {
    env: { ...process.env, LOADED_MODULES: record },
    timeout: 120_000,
  }).then(
    ({ stdout, stderr }) => ({ stdout, stderr, status: 0 }),
    (error: { code?: unknown; stdout?: string; stderr?: string }) => {
      if (!anyExit || typeof error.code !== 'number') throw error;
      return { stdout: error.stdout ?? '', stderr: error.stderr ?? '', status: error.code };
    },
  );
  const urls = JSON.parse(await readFile(record, 'utf8')) as string[];
  const loaded = urls.filter((url) => url.startsWith('file:')).map((url) => fileURLToPath(url).slice(root.length + 1));
  return { ...ran, loaded };
}
