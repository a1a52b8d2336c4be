// Read and write rates of Instant Recovery sessions, from the byte counters of successive listings.
import { useRef } from 'react';
import type { InstantSession } from '../../../shared/domain.ts';

type Sample = { at: number; read: number; written: number };
export type Rate = { read: number; written: number };

/** Bytes per second between the last two samples of each session (a second apart at least). */
export function useRates(sessions: InstantSession[]): Map<string, Rate> {
  const samples = useRef(new Map<string, { previous: Sample; rate: Rate }>());
  const now = Date.now();
  for (const session of sessions) {
    const known = samples.current.get(session.id);
    const sample = { at: now, read: session.bytesRead, written: session.bytesWritten };
    if (!known) samples.current.set(session.id, { previous: sample, rate: { read: 0, written: 0 } });
    else if (now - known.previous.at >= 1000) {
      const seconds = (now - known.previous.at) / 1000;
      samples.current.set(session.id, {
        previous: sample,
        rate: { read: (sample.read - known.previous.read) / seconds, written: (sample.written - known.previous.written) / seconds },
      });
    }
  }
  return new Map([...samples.current].map(([id, entry]) => [id, entry.rate]));
}
