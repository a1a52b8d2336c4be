// Times in the operator's own zone (durations: shared/format.ts formatSeconds).
import { useEffect, useState } from 'react';

export function formatTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** The time now, renewed every second while `ticking` (a running job's "took" keeps counting
 * when no progress arrives, as while it waits for a tape). */
export function useNow(ticking: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!ticking) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [ticking]);
  return now;
}
