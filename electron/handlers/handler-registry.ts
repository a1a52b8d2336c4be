// The engine's request handlers, gathered per service: each service area exports the handlers of
// its channels, and the composition root registers them here. A channel registered twice is a
// wiring mistake and is refused; once every area is in, `complete` checks that no wanted channel
// is left without a handler (at compile time through the type, at start-up at run time).
// It knows only the contract, so every service area can name its handlers without a cycle.
import type { z } from 'zod';
import type { RequestChannel, ResponseOf, requestChannels } from '../../shared/contract.ts';
import type { Caller } from '../../shared/accounts.ts';

export type Parsed<C extends RequestChannel> = z.infer<(typeof requestChannels)[C]['request']>;

/** Who asks, already checked against the channel's least role (rpc/dispatch.ts); `actor` is how
 * the audit names them; `signal` aborts when the connection that asked goes away;
 * `consoleSession`: the browser console's session the call came through (`serve`), absent for
 * the app, the home's socket and the CLI (what only a browser can do, a download, wants it). */
export type CallContext = { caller: Caller; actor: string; signal: AbortSignal; consoleSession?: string | null };

export type Handler<C extends RequestChannel> = (request: Parsed<C>, context: CallContext) => Promise<ResponseOf<C>>;
/** The handlers of some channels: what one service area registers. */
export type ChannelHandlers<C extends RequestChannel> = { [K in C]: Handler<K> };

/** Collects the areas' handlers for the `Wanted` channels; `Registered` says, in the type, which
 * are in so far. */
export class HandlerRegistry<Wanted extends RequestChannel, Registered extends Wanted = never> {
  private readonly wanted: readonly Wanted[];
  private readonly handlers: ChannelHandlers<Registered>;

  private constructor(wanted: readonly Wanted[], handlers: ChannelHandlers<Registered>) {
    this.wanted = wanted;
    this.handlers = handlers;
  }

  static for<Wanted extends RequestChannel>(wanted: readonly Wanted[]): HandlerRegistry<Wanted> {
    return new HandlerRegistry(wanted, {});
  }

  add<C extends Exclude<Wanted, Registered>>(area: ChannelHandlers<C>): HandlerRegistry<Wanted, Registered | C> {
    const twice = Object.keys(area).filter((channel) => Object.hasOwn(this.handlers, channel));
    if (twice.length > 0) throw new Error(`handlers registered twice for ${twice.join(', ')}`);
    // Both key sets' handlers are the union's handlers; TypeScript cannot see that for generic sets.
    const merged = { ...this.handlers, ...area } as ChannelHandlers<Registered | C>;
    return new HandlerRegistry<Wanted, Registered | C>(this.wanted, merged);
  }

  /** A handler for every wanted channel; only a registry that holds them all (in its type) has one. */
  complete(this: HandlerRegistry<Wanted, Wanted>): ChannelHandlers<Wanted> {
    const missing = this.wanted.filter((channel) => !Object.hasOwn(this.handlers, channel));
    if (missing.length > 0) throw new Error(`no handler for ${missing.join(', ')}`);
    return this.handlers;
  }
}
