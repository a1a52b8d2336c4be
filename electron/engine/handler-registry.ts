// The engine's request handlers, gathered per service: each service area exports the handlers of
// its channels, and the composition root registers them here. A channel registered twice is a
// wiring mistake and is refused; once every area is in, `complete` checks that no engine channel
// is left without a handler (at compile time through the type, at start-up at run time).
import type { z } from 'zod';
import { isRequestChannel, requestChannels, type RequestChannel, type ResponseOf } from '../../shared/contract.ts';
import type { Caller } from '../../shared/accounts.ts';
import { isConnectionChannel, type ConnectionChannel } from '../auth/auth-handlers.ts';
import { identityLabel } from '../auth/roles.ts';

/** Every channel but sign-in's, which acts on the connection (electron/auth/auth-handlers.ts). */
export type EngineChannel = Exclude<RequestChannel, ConnectionChannel>;

export type Parsed<C extends RequestChannel> = z.infer<(typeof requestChannels)[C]['request']>;

/** Who asks, already checked against the channel's least role (rpc/dispatch.ts); `actor` is how
 * the audit names them; `signal` aborts when the connection that asked goes away. */
export type CallContext = { caller: Caller; actor: string; signal: AbortSignal };

/** The context of a call by `caller`; without a signal (a transport that cannot tell when its
 * peer goes away, an in-process call), the call is never aborted. */
export function callContext(caller: Caller, signal: AbortSignal = new AbortController().signal): CallContext {
  return { caller, actor: identityLabel(caller), signal };
}

export type Handler<C extends EngineChannel> = (request: Parsed<C>, context: CallContext) => Promise<ResponseOf<C>>;
/** The handlers of some channels: what one service area registers. */
export type ChannelHandlers<C extends EngineChannel> = { [K in C]: Handler<K> };
/** A handler for every engine channel. */
export type Handlers = ChannelHandlers<EngineChannel>;

/** Collects the areas' handlers; `Registered` says, in the type, which channels are in so far. */
export class HandlerRegistry<Registered extends EngineChannel = never> {
  private readonly handlers: ChannelHandlers<Registered>;

  private constructor(handlers: ChannelHandlers<Registered>) {
    this.handlers = handlers;
  }

  static empty(): HandlerRegistry {
    return new HandlerRegistry({});
  }

  add<C extends Exclude<EngineChannel, Registered>>(area: ChannelHandlers<C>): HandlerRegistry<Registered | C> {
    const twice = Object.keys(area).filter((channel) => Object.hasOwn(this.handlers, channel));
    if (twice.length > 0) throw new Error(`handlers registered twice for ${twice.join(', ')}`);
    // Both key sets' handlers are the union's handlers; TypeScript cannot see that for generic sets.
    const merged = { ...this.handlers, ...area } as ChannelHandlers<Registered | C>;
    return new HandlerRegistry<Registered | C>(merged);
  }

  /** Every engine channel's handler; only a registry that holds them all (in its type) has one. */
  complete(this: HandlerRegistry<EngineChannel>): Handlers {
    const missing = Object.keys(requestChannels).filter((channel) => isRequestChannel(channel) && !isConnectionChannel(channel) && !Object.hasOwn(this.handlers, channel));
    if (missing.length > 0) throw new Error(`no handler for ${missing.join(', ')}`);
    return this.handlers;
  }
}
