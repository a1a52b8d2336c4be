// A `lifeboat --home HOME serve --port 0 --json ARGS…` child process, started until it serves and
// stopped on demand: for the tests (test/helpers/serve-process.ts stops it after the file) and the
// benchmarks (a second engine of a shared catalog, bench/shared-queue.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const cli = join(import.meta.dirname, '..', 'electron', 'cli', 'main.ts');

export type ServeOutput = {
  url: string;
  home: string;
  certificate: { source: string; sha256: string; spkiSha256: string; new: boolean } | null;
};

export type ServeChild = {
  child: ChildProcess;
  printed: ServeOutput;
  /** What the process wrote to stderr so far. */
  stderr(): string;
  /** Ends the process with SIGTERM (a graceful shutdown) and waits for it; nothing if it ended. */
  stop(): Promise<void>;
  /** Ends the process with `signal` and waits for it; nothing if it ended. */
  kill(signal: NodeJS.Signals): Promise<void>;
};

/** How long a serve may take to print its URL before it is killed and the start fails. */
const SERVE_START_MS = 60_000;

/** Starts the serve and waits for its JSON line (at most a minute: then the process is killed and
 * this fails, so no serve is ever left running). `started` hears of the process at once, before it
 * serves (a test registers its stop there). */
export async function spawnServe(
  env: NodeJS.ProcessEnv,
  home: string,
  args: string[],
  started: (stop: () => Promise<void>) => void = () => undefined,
): Promise<ServeChild> {
  const child = spawn(process.execPath, [cli, '--home', home, 'serve', '--port', '0', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  const stop = (): Promise<void> => kill('SIGTERM');
  started(stop);
  let timer: NodeJS.Timeout | undefined;
  const printed = await new Promise<ServeOutput>((resolve, reject) => {
    let text = '';
    timer = setTimeout(() => reject(new Error(`serve printed no URL in ${SERVE_START_MS / 1000} s: ${stderr}`)), SERVE_START_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n').find((candidate) => candidate.startsWith('{'));
      if (line) resolve(JSON.parse(line) as ServeOutput);
    });
    void exited.then(() => reject(new Error(`serve exited with ${child.exitCode ?? child.signalCode}: ${text} ${stderr}`)));
  })
    .catch(async (error: unknown) => {
      await kill('SIGKILL');
      throw error;
    })
    .finally(() => clearTimeout(timer));
  return { child, printed, stderr: () => stderr, stop, kill };
}
