// What a transport knows about the peer on one connection: who it is without signing in (the OS
// user for the home's socket, the app and the CLI's own engine; nobody for the browser console)
// and the session token it signed in with, if any. The token is checked again on every call, so
// an expired session, a removed account or a changed password or role takes effect at once. Its
// signal tells the requests it made that it went away (when the transport can tell).
import { userInfo } from 'node:os';
import type { Caller } from '../../shared/accounts.ts';

export class Peer {
  readonly unsignedCaller: Caller | null;
  token: string | null = null;
  /** The browser console's session (`serve`) this connection came through; null elsewhere. */
  consoleSession: string | null = null;
  private readonly presence = new AbortController();
  /** Aborts once the connection has gone away: a long request it made may stop then. */
  readonly signal: AbortSignal = this.presence.signal;

  constructor(unsignedCaller: Caller | null) {
    this.unsignedCaller = unsignedCaller;
  }

  /** The transport saw the connection close. */
  left(): void {
    this.presence.abort(new Error('the connection closed'));
  }
}

/** The OS user running the engine: whoever can reach its 0600 socket or runs it in-process can
 * read and write the catalog anyway, so it administers. It never counts as a four-eyes approver. */
export function osCaller(): Caller {
  return { account: userInfo().username, role: 'administrator', via: 'os' };
}
