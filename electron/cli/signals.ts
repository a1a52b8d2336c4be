// How a process that runs an engine (`lifeboat serve`, or a CLI command's own engine) ends on
// SIGINT, SIGTERM or SIGHUP: it stops the engine (no new work, running jobs interrupted and
// resumable, servers and catalog closed) and exits, within seconds even if something hangs:
// `serve` with 0 (a signal is how it is meant to end), a command with 128 + the signal's number
// (its job did not finish). A repeated signal (a terminal signals the whole process group, and
// bin/lifeboat.js forwards it too) does not start a second stop.
import { constants } from 'node:os';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];
const GRACE_MS = 10_000;

export function exitCodeOf(signal: StopSignal): number {
  return 128 + constants.signals[signal];
}

/** Calls `stop` once, on the first stop signal; returns a function that removes the handlers
 * (the signal that arrived, if any, stays readable through `received`). */
export function onStopSignal(stop: (signal: StopSignal) => Promise<void>): { received(): StopSignal | null; remove(): void } {
  let received: StopSignal | null = null;
  const handler = (signal: StopSignal): void => {
    if (received) return;
    received = signal;
    const code = exitCodeOf(signal);
    // Unref'd: it only fires if the stop (or a handle it left) keeps the process alive too long.
    setTimeout(() => {
      process.stderr.write(`lifeboat: the engine did not stop within ${GRACE_MS / 1000} s of ${signal}; exiting\n`);
      process.exit(code);
    }, GRACE_MS).unref();
    void stop(signal).catch((error: unknown) => {
      process.stderr.write(`lifeboat: stopping after ${signal} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(code);
    });
  };
  for (const signal of STOP_SIGNALS) process.on(signal, handler);
  return {
    received: () => received,
    remove: () => {
      for (const signal of STOP_SIGNALS) process.off(signal, handler);
    },
  };
}
