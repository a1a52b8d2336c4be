// Crash tests' hook: LIFEBOAT_KILL_AT=<point>[:<n>] makes this process SIGKILL itself the n-th
// time (default: the first) it passes the named point, so a test kills a real engine at an exact
// place of a job instead of guessing with timers. LIFEBOAT_KILL_WITH=<SIGNAL>[@parent] sends
// another signal instead, to this process or to its parent (bin/lifeboat.js, which passes it
// back): a stop that arrives at a known moment. Unset, a kill point does nothing.
import { constants } from 'node:os';

const wanted = parse(process.env.LIFEBOAT_KILL_AT, process.env.LIFEBOAT_KILL_WITH);
const passes = new Map<string, number>();
let fired = false;

type Wanted = { point: string; count: number; signal: NodeJS.Signals; toParent: boolean };

function parse(at: string | undefined, by: string | undefined): Wanted | null {
  if (!at) return null;
  const [point = '', count] = at.split(':');
  const [signal = '', whom] = (by ?? '').split('@');
  const known = signal !== '' && signal in constants.signals ? (signal as NodeJS.Signals) : 'SIGKILL';
  return { point, count: count !== undefined && /^\d+$/.test(count) ? Number(count) : 1, signal: known, toParent: whom === 'parent' };
}

export function killPoint(point: string): void {
  if (fired || wanted?.point !== point) return;
  const count = (passes.get(point) ?? 0) + 1;
  passes.set(point, count);
  if (count < wanted.count) return;
  fired = true;
  process.kill(wanted.toParent ? process.ppid : process.pid, wanted.signal);
}
