#!/usr/bin/env node
// `lifeboat`: the command line. Every command takes --home and --json, exits non-zero with one
// clear line on bad input, and talks to the engine through the same contract as the console.
// This file loads only what --help needs: the commands (and, through them, the engine when no
// engine serves the home) are imported once a command is known, so the CLI answers at once.
import { fileURLToPath } from 'node:url';
import { toWireError } from '../errors.ts';
import type { Output } from './cli-output.ts';
import { parseCommandLine } from './options.ts';
import { usage } from './usage.ts';

export async function main(argv: string[]): Promise<number> {
  // The mover is a program of its own (no home, its own flags): it gets its arguments unparsed.
  if (argv[0] === 'mover') return (await import('./mover-command.ts')).moverCommand(argv.slice(1));
  const { values, positionals } = parseCommandLine(argv);
  const out: Output = {
    json: values.json,
    print: (human, data) => console.log(values.json ? JSON.stringify(data, null, 2) : human),
  };
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  const { runCommand } = await import('./run-command.ts');
  return runCommand(command, rest, values, out);
}

/** Runs the command line and sets the exit status: the command's, or 2 (bad input) / 3 (a fault)
 * with one line on stderr (or `{ error }` on stdout with --json). */
export function runFromCommandLine(argv: string[]): Promise<void> {
  return main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      const wire =
        error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
          ? { code: 'bad-request', message: error.message }
          : toWireError(error);
      if (argv.includes('--json')) console.log(JSON.stringify({ error: wire }));
      else console.error(`lifeboat: ${wire.message}`);
      process.exitCode = wire.code === 'internal' ? 3 : 2;
    },
  );
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await runFromCommandLine(process.argv.slice(2));
