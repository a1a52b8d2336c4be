// CLI start-up: `lifeboat --help`, `lifeboat jobs` with no engine serving the home (a listing: the
// command opens the home read-only, engine/read-only-home.ts) and `lifeboat jobs` answered by a
// running `lifeboat serve`, each
// spawned and waited for (hyperfine-style) N times, from the bundle (bin/lifeboat.js, which runs
// dist/cli/ when it is current) and from the TypeScript source (node electron/cli/main.ts), with
// a bare `node -e 0` as the floor measured in the same rounds. Runs are interleaved, so load on
// the machine weighs on every variant alike. Goal: --help and jobs under 250 ms.
// Alone: LIFEBOAT_BENCH_ONLY=cli npm run bench (LIFEBOAT_BENCH_CLI_RUNS sets N, default 15).
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { buildAll } from '../scripts/build.ts';

const RUNS = Number(process.env.LIFEBOAT_BENCH_CLI_RUNS ?? '15');
const GOAL_MS = 250;
const repo = join(import.meta.dirname, '..');
const bin = join(repo, 'bin', 'lifeboat.js');
const source = join(repo, 'electron', 'cli', 'main.ts');

type Variant = { name: string; args: string[] };

function spawnAndWait(args: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(Number(process.hrtime.bigint() - started) / 1e6) : reject(new Error(`${args.join(' ')} exited with ${code}`)),
    );
  });
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] as number;
}

/** Each variant once per round, RUNS rounds (one warm-up round first, not counted). */
async function measure(variants: Variant[]): Promise<Map<string, number[]>> {
  const times = new Map(variants.map((variant) => [variant.name, [] as number[]]));
  for (let round = 0; round <= RUNS; round++) {
    for (const variant of variants) {
      const ms = await spawnAndWait(variant.args);
      if (round > 0) times.get(variant.name)?.push(ms);
    }
  }
  return times;
}

async function startServe(home: string): Promise<{ stop(): Promise<void> }> {
  const server = spawn(process.execPath, [bin, '--home', home, 'serve', '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const ended = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let text = '';
    server.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('"url"')) resolve();
    });
    server.once('exit', (code) => reject(new Error(`serve exited with ${code} before it listened`)));
  });
  return {
    stop: async () => {
      server.kill('SIGTERM');
      await ended;
    },
  };
}

function report(times: Map<string, number[]>, bundled: string, fromSource: string, label: string, floor: number): void {
  const bundle = times.get(bundled) ?? [];
  const src = times.get(fromSource) ?? [];
  const bundleMedian = percentile(bundle, 0.5);
  const sourceMedian = percentile(src, 0.5);
  console.log(
    `  ${label.padEnd(30)} bundle median ${bundleMedian.toFixed(0)} ms, p90 ${percentile(bundle, 0.9).toFixed(0)} ms` +
      ` (${bundleMedian < GOAL_MS ? 'meets' : 'misses'} the ${GOAL_MS} ms goal; ${(bundleMedian - floor).toFixed(0)} ms over a bare Node start)` +
      ` | source median ${sourceMedian.toFixed(0)} ms, p90 ${percentile(src, 0.9).toFixed(0)} ms | source / bundle ${(sourceMedian / bundleMedian).toFixed(1)}x`,
  );
}

export async function cliStart(root: string): Promise<void> {
  await buildAll(); // the bundle, and the console that `serve` needs
  const home = join(root, 'home-cli');
  const lab = spawnSync(process.execPath, [bin, '--home', home, 'lab', 'create', '--vms', '1', '--points', '2', '--disk-mib', '16'], {
    stdio: 'ignore',
  });
  if (lab.status !== 0) throw new Error(`lab create exited with ${lab.status}`);
  const floor: Variant = { name: 'node', args: ['-e', '0'] };
  const variants = (suffix: string, args: string[]): Variant[] => [
    { name: `bundle ${suffix}`, args: [bin, ...args] },
    { name: `source ${suffix}`, args: [source, ...args] },
  ];
  const idle = await measure([floor, ...variants('help', ['--help']), ...variants('jobs', ['--home', home, 'jobs'])]);
  const server = await startServe(home);
  let served: Map<string, number[]>;
  try {
    served = await measure([floor, ...variants('jobs', ['--home', home, 'jobs'])]);
  } finally {
    await server.stop();
  }
  const floorMs = percentile([...(idle.get('node') ?? []), ...(served.get('node') ?? [])], 0.5);
  console.log(
    `  CLI start-up, ${RUNS} runs each, spawn + wait: a bare \`node -e 0\` takes ${floorMs.toFixed(0)} ms (median; load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} cores)`,
  );
  report(idle, 'bundle help', 'source help', 'lifeboat --help', floorMs);
  report(idle, 'bundle jobs', 'source jobs', 'jobs, no engine running', floorMs);
  report(served, 'bundle jobs', 'source jobs', 'jobs, `lifeboat serve` running', floorMs);
}
