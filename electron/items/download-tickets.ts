// Download tickets: a browser's GET carries no session key, so the console asks for a download
// over its authenticated socket and gets a ticket, the capability to fetch that one archive:
// random (256 bits), single use, good for 60 s to start, and bound to the console session that
// asked (it dies with the session). Kept by digest, as the console's one-time tokens are.
import { createHash, randomBytes } from 'node:crypto';
import type { ByteSink } from './archive.ts';

const TICKET_LIFETIME_MS = 60_000;
/** Tickets waiting at once: each holds a request in memory until used or expired. */
const MAX_WAITING = 256;

/** What a ticket fetches: the archive's file name and type, and how to write it. */
export type Download = {
  session: string;
  name: string;
  contentType: string;
  /** Writes the archive; `signal` aborts when the browser goes away. Throws when an item fails. */
  write(sink: ByteSink, signal: AbortSignal): Promise<void>;
};

const digestOf = (ticket: string): string => createHash('sha256').update(ticket).digest('hex');

export class DownloadTickets {
  private readonly waiting = new Map<string, { download: Download; expiresAt: number }>();
  /** Downloads under way, by console session. */
  private readonly streaming = new Map<string, Set<() => void>>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  issue(download: Download): { ticket: string; expiresAt: Date } {
    this.dropExpired();
    // The oldest ticket gives way: a console asking again and again cannot grow this without end.
    if (this.waiting.size >= MAX_WAITING) this.waiting.delete(this.waiting.keys().next().value as string);
    const ticket = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + TICKET_LIFETIME_MS;
    this.waiting.set(digestOf(ticket), { download, expiresAt });
    return { ticket, expiresAt: new Date(expiresAt) };
  }

  /** The download a ticket fetches, once; null when unknown, used or expired. */
  take(ticket: string): Download | null {
    const key = digestOf(ticket);
    const found = this.waiting.get(key);
    this.waiting.delete(key);
    return found && found.expiresAt > this.now() ? found.download : null;
  }

  /** A download under way, stopped by `stop` if its session ends first; returns what to call
   * when it is over. */
  started(session: string, stop: () => void): () => void {
    const stops = this.streaming.get(session) ?? new Set<() => void>();
    stops.add(stop);
    this.streaming.set(session, stops);
    return () => {
      stops.delete(stop);
      if (stops.size === 0 && this.streaming.get(session) === stops) this.streaming.delete(session);
    };
  }

  /** A console session ended (revoked, expired): its tickets end with it, and so do its downloads
   * under way, however long the archive. */
  dropSession(session: string): void {
    for (const [key, { download }] of this.waiting) if (download.session === session) this.waiting.delete(key);
    const stops = this.streaming.get(session);
    this.streaming.delete(session);
    for (const stop of stops ?? []) stop();
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [key, { expiresAt }] of this.waiting) if (expiresAt <= now) this.waiting.delete(key);
  }
}
