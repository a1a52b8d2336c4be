// The shape the preload script exposes (one function per request channel, one on* per event
// returning its unsubscribe), derived from the contract and its generated names, and its
// adaptation to LifeboatApi.
import type { EventChannel, EventOf, LifeboatApi, RequestChannel, RequestOf, ResponseOf } from '../../shared/contract.ts';
import { eventSubscribers } from '../../shared/generated/channels.ts';

type Subscriber<E extends EventChannel> = (listener: (payload: EventOf<E>) => void) => () => void;

export type PreloadBridge = {
  [C in RequestChannel]: (request: RequestOf<C>) => Promise<ResponseOf<C>>;
} & {
  [E in EventChannel as (typeof eventSubscribers)[E]]: Subscriber<E>;
};

export function fromPreload(bridge: PreloadBridge): LifeboatApi {
  return {
    invoke: <C extends RequestChannel>(channel: C, request: RequestOf<C>) => (bridge[channel] as unknown as (request: RequestOf<C>) => Promise<ResponseOf<C>>)(request),
    on: <E extends EventChannel>(event: E, listener: (payload: EventOf<E>) => void) => (bridge[eventSubscribers[event]] as Subscriber<E>)(listener),
  };
}
