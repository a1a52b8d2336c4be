// `lifeboat mover`: the data mover a proxy host runs. It is its own program with its own flags
// (no home, no engine, no sign-in), so main.ts hands it the command line before the CLI's table.
import { parseArgs } from 'node:util';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { describeEvent, type MoverEvent } from '../mover/mover-events.ts';
import type { MoverOptions, MoverTuning, Transport } from '../mover/mover-options.ts';
import { runMover } from '../mover/run-mover.ts';
import { positiveInt, UsageError } from './cli-output.ts';
import { onStopSignal } from './signals.ts';

const TRANSPORTS: readonly Transport[] = ['san', 'hotadd', 'nbd'];
const MAX_SLOTS = 64;

function parseMoverArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: false,
    strict: true,
    options: {
      engine: { type: 'string' },
      state: { type: 'string' },
      token: { type: 'string' },
      datastore: { type: 'string', multiple: true, default: [] },
      transports: { type: 'string', default: 'nbd' },
      slots: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
}

/** HOST:PORT, [IPv6]:PORT. */
function engineAddress(text: string | undefined): MoverOptions['engine'] {
  if (!text) throw new UsageError('--engine HOST:PORT is required (the address `lifeboat movers add` printed)');
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!host || !(port >= 1 && port <= 65_535) || (match?.[1] !== undefined && isIP(host) !== 6))
    throw new UsageError(`--engine ${text} is not HOST:PORT`);
  return { host, port };
}

function datastoreViews(given: string[]): Record<string, string> {
  const views: Record<string, string> = {};
  for (const entry of given) {
    const at = entry.indexOf('=');
    const name = entry.slice(0, at);
    if (at <= 0 || at === entry.length - 1) throw new UsageError(`--datastore ${entry} is not NAME=PATH`);
    if (name in views) throw new UsageError(`--datastore ${name} is given twice`);
    views[name] = resolve(entry.slice(at + 1));
  }
  return views;
}

function transports(text: string): Transport[] {
  const named = text.split(',').map((name) => name.trim());
  const unknown = named.filter((name) => !TRANSPORTS.includes(name as Transport));
  if (named.length === 0 || unknown.length > 0)
    throw new UsageError(`--transports takes san, hotadd and nbd, comma-separated (not ${unknown.join(', ')})`);
  return [...new Set(named as Transport[])];
}

function envNumber(name: string, fallback: number | null): number | null {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^\d+$/.test(text) || Number(text) === 0) throw new UsageError(`${name} takes a whole number above 0`);
  return Number(text);
}

function tuningFromEnvironment(): MoverTuning {
  return {
    silenceMs: envNumber('LIFEBOAT_MOVER_TIMEOUT_MS', 15_000) as number,
    checkpointMs: envNumber('LIFEBOAT_CHECKPOINT_MS', 2_000) as number,
    writeBytesPerSecond: envNumber('LIFEBOAT_MOVER_WRITE_BPS', null),
    backoffFirstMs: 1_000,
    backoffMaxMs: 10_000,
  };
}

/** Runs the mover until a stop signal (exit 0) or a refusal (exit 3); bad flags throw (exit 2). */
export async function moverCommand(argv: string[]): Promise<number> {
  const values = parseMoverArgs(argv);
  if (values.help) {
    console.log((await import('./usage.ts')).usage);
    return 0;
  }
  if (!values.state) throw new UsageError('--state DIR is required (where the mover keeps its key and certificates)');
  const slots = positiveInt(values.slots, 2, '--slots');
  if (slots < 1 || slots > MAX_SLOTS) throw new UsageError(`--slots takes 1 to ${MAX_SLOTS}`);
  const options: MoverOptions = {
    engine: engineAddress(values.engine),
    state: resolve(values.state),
    token: values.token ?? null,
    datastores: datastoreViews(values.datastore),
    transports: transports(values.transports),
    slots,
  };
  const emit = (event: MoverEvent): void => {
    if (values.json) process.stdout.write(`${JSON.stringify(event)}\n`);
    else if (event.event !== 'refused') process.stdout.write(`${describeEvent(event)}\n`);
    if (event.event === 'refused') process.stderr.write(`lifeboat mover: ${describeEvent(event)}\n`);
  };
  const stopped = new AbortController();
  const signals = onStopSignal(async () => stopped.abort());
  try {
    return await runMover(options, tuningFromEnvironment(), emit, stopped.signal);
  } finally {
    signals.remove();
  }
}
