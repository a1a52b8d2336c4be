// The shape the preload script exposes (one function per request channel, one on* per event
// returning its unsubscribe), derived from the contract and its generated names, and its
// adaptation to LifeboatApi.
import type { EventChannel, EventOf, LifeboatApi, RequestChannel, RequestOf, ResponseOf } from '../../shared/contract.ts';
import { eventSubscribers } from '../../shared/generated/channels.ts';

type RequestFunctions = { [C in RequestChannel]: (request: RequestOf<C>) => Promise<ResponseOf<C>> };
type Subscriber<E extends EventChannel> = (listener: (payload: EventOf<E>) => void) => () => void;
type EventSubscribers = { [E in EventChannel as (typeof eventSubscribers)[E]]: Subscriber<E> };

export type PreloadBridge = RequestFunctions & EventSubscribers;

export function fromPreload(bridge: PreloadBridge): LifeboatApi {
  const requests: RequestFunctions = bridge;
  return {
    invoke: <C extends RequestChannel>(channel: C, request: RequestOf<C>) => requests[channel](request),
    // The remapped keys hide which event an on* belongs to; eventSubscribers is that map.
    on: <E extends EventChannel>(event: E, listener: (payload: EventOf<E>) => void) =>
      (bridge[eventSubscribers[event]] as Subscriber<E>)(listener),
  };
}
