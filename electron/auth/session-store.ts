// Console session keys: what a browser holds after trading its one-time token (or, later, after
// signing in). A key ends when it sits idle too long, when it reaches its absolute lifetime, or
// when an operator revokes it; whoever holds a socket under it hears why through `onEnd`.
// Keys are kept only as SHA-256 digests, looked up by digest, so a key is never compared byte by
// byte and never sits in memory in the clear after it is handed out.
// With `records` (the catalog), sessions outlive the engine: a browser tab reconnects to a
// restarted `lifeboat serve` with the key it holds. Use is written at most once a minute.
import { createHash, randomBytes } from 'node:crypto';
import type { StoredSession } from '../catalog/console-session-catalog.ts';

export type SessionLimits = { idleMs: number; absoluteMs: number };
export const DEFAULT_SESSION_LIMITS: SessionLimits = { idleMs: 30 * 60_000, absoluteMs: 12 * 3_600_000 };

export type SessionEndReason = 'expired' | 'revoked';

/** Who the session belongs to, once sign-in exists; null for a session from the printed URL. */
export type SessionIdentity = string | null;

export type SessionSummary = {
  id: string;
  identity: SessionIdentity;
  createdAt: string;
  lastUsedAt: string;
  /** When it ends if nothing touches it: the earlier of the idle and the absolute limit. */
  expiresAt: string;
};

export type SessionCheck = { ok: true; id: string } | { ok: false; reason: 'unknown' | SessionEndReason };

type Session = { id: string; digest: string; identity: SessionIdentity; createdAt: number; lastUsedAt: number; storedUse: number };

/** Where sessions are kept across restarts (the catalog's console_sessions). */
export type SessionRecords = { all(): StoredSession[]; save(session: StoredSession): void; forget(id: string): void };
const STORE_USE_EVERY_MS = 60_000;

const digestOf = (key: string): string => createHash('sha256').update(key).digest('hex');

export class SessionStore {
  private readonly limits: SessionLimits;
  private readonly now: () => number;
  private readonly byDigest = new Map<string, Session>();
  /** Ended sessions, by digest, so a tab that comes back with one hears why, not "wrong key".
   * Kept no longer than a session could have lived. */
  private readonly ended = new Map<string, { id: string; reason: SessionEndReason; at: number }>();
  private readonly listeners = new Set<(id: string, reason: SessionEndReason) => void>();
  private readonly records: SessionRecords | null;

  constructor(options: { limits?: Partial<SessionLimits>; now?: () => number; records?: SessionRecords } = {}) {
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...options.limits };
    this.now = options.now ?? Date.now;
    this.records = options.records ?? null;
    for (const stored of this.records?.all() ?? []) {
      if (stored.ended) this.ended.set(stored.digest, { id: stored.id, ...stored.ended });
      else this.byDigest.set(stored.digest, { ...stored, storedUse: stored.lastUsedAt });
    }
    this.sweep();
  }

  private store(session: Session, ended: StoredSession['ended'] = null): void {
    session.storedUse = session.lastUsedAt;
    this.records?.save({
      id: session.id,
      digest: session.digest,
      identity: session.identity,
      createdAt: session.createdAt,
      lastUsedAt: session.lastUsedAt,
      ended,
    });
  }

  /** A new session: `id` names it (lists, revocation), `key` is the secret the browser keeps. */
  create(identity: SessionIdentity = null): { id: string; key: string } {
    const key = randomBytes(24).toString('base64url');
    const at = this.now();
    const session: Session = {
      id: randomBytes(6).toString('hex'),
      digest: digestOf(key),
      identity,
      createdAt: at,
      lastUsedAt: at,
      storedUse: at,
    };
    this.byDigest.set(session.digest, session);
    this.store(session);
    return { id: session.id, key };
  }

  /** Is this key a live session? A live one is touched; an expired one is ended here. */
  authenticate(key: string): SessionCheck {
    const digest = digestOf(key);
    const session = this.byDigest.get(digest);
    if (!session) {
      const ended = this.ended.get(digest);
      return { ok: false, reason: ended?.reason ?? 'unknown' };
    }
    return this.touch(session.id) ? { ok: true, id: session.id } : { ok: false, reason: 'expired' };
  }

  /** Marks use of a session (every frame its socket sends); false when it has ended. */
  touch(id: string): boolean {
    const session = this.find(id);
    if (!session) return false;
    if (this.expired(session)) {
      this.end(session, 'expired');
      return false;
    }
    session.lastUsedAt = this.now();
    if (session.lastUsedAt - session.storedUse >= STORE_USE_EVERY_MS) this.store(session);
    return true;
  }

  identityOf(id: string): SessionIdentity {
    return this.find(id)?.identity ?? null;
  }

  /** Revokes one session; false when no live session has that id. */
  revoke(id: string): boolean {
    const session = this.find(id);
    if (!session) return false;
    if (this.expired(session)) {
      this.end(session, 'expired');
      return false;
    }
    this.end(session, 'revoked');
    return true;
  }

  /** Revokes every live session; returns how many. */
  revokeAll(): number {
    this.sweep();
    const live = [...this.byDigest.values()];
    for (const session of live) this.end(session, 'revoked');
    return live.length;
  }

  /** Ends the sessions whose time is up (and forgets old ended ones); returns how many ended. */
  sweep(): number {
    const expired = [...this.byDigest.values()].filter((session) => this.expired(session));
    for (const session of expired) this.end(session, 'expired');
    const forgetBefore = this.now() - this.limits.absoluteMs;
    for (const [digest, ended] of this.ended) {
      if (ended.at >= forgetBefore) continue;
      this.ended.delete(digest);
      this.records?.forget(ended.id);
    }
    return expired.length;
  }

  /** Live sessions, oldest first (expired ones are ended first, so they are not listed). */
  list(): SessionSummary[] {
    this.sweep();
    return [...this.byDigest.values()]
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((session) => ({
        id: session.id,
        identity: session.identity,
        createdAt: new Date(session.createdAt).toISOString(),
        lastUsedAt: new Date(session.lastUsedAt).toISOString(),
        expiresAt: new Date(this.expiresAt(session)).toISOString(),
      }));
  }

  onEnd(listener: (id: string, reason: SessionEndReason) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  private find(id: string): Session | undefined {
    for (const session of this.byDigest.values()) if (session.id === id) return session;
    return undefined;
  }

  private expiresAt(session: Session): number {
    return Math.min(session.lastUsedAt + this.limits.idleMs, session.createdAt + this.limits.absoluteMs);
  }

  private expired(session: Session): boolean {
    return this.now() >= this.expiresAt(session);
  }

  private end(session: Session, reason: SessionEndReason): void {
    this.byDigest.delete(session.digest);
    const ended = { reason, at: this.now() };
    this.ended.set(session.digest, { id: session.id, ...ended });
    this.store(session, ended);
    for (const listener of this.listeners) listener(session.id, reason);
  }
}
