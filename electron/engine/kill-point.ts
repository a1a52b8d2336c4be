// Crash tests' hook: LIFEBOAT_KILL_AT=<point>[:<n>] makes this process SIGKILL itself the n-th
// time (default: the first) it passes the named point, so a test kills a real engine at an exact
// place of a job instead of guessing with timers. Unset, a kill point does nothing.
const wanted = parse(process.env.LIFEBOAT_KILL_AT);
const passes = new Map<string, number>();

function parse(setting: string | undefined): { point: string; count: number } | null {
  if (!setting) return null;
  const [point = '', count] = setting.split(':');
  return { point, count: count !== undefined && /^\d+$/.test(count) ? Number(count) : 1 };
}

export function killPoint(point: string): void {
  if (wanted?.point !== point) return;
  const count = (passes.get(point) ?? 0) + 1;
  passes.set(point, count);
  if (count >= wanted.count) process.kill(process.pid, 'SIGKILL');
}
