// The shape the preload script exposes (one function per channel, on* returning an unsubscribe)
// and its adaptation to LifeboatApi.
import type { EventChannel, EventOf, LifeboatApi, RequestChannel, RequestOf, ResponseOf } from '../../shared/contract.ts';

export type PreloadBridge = {
  [C in RequestChannel]: (request: RequestOf<C>) => Promise<ResponseOf<C>>;
} & {
  onJobUpdated(listener: (payload: EventOf<'job.updated'>) => void): () => void;
  onJobProgress(listener: (payload: EventOf<'job.progress'>) => void): () => void;
  onPromptUpdated(listener: (payload: EventOf<'prompt.updated'>) => void): () => void;
  onInstantUpdated(listener: (payload: EventOf<'instant.updated'>) => void): () => void;
};

export const eventSubscribers = { 'job.updated': 'onJobUpdated', 'job.progress': 'onJobProgress', 'prompt.updated': 'onPromptUpdated', 'instant.updated': 'onInstantUpdated' } as const satisfies Record<EventChannel, string>;

export function fromPreload(bridge: PreloadBridge): LifeboatApi {
  return {
    invoke: <C extends RequestChannel>(channel: C, request: RequestOf<C>) => (bridge[channel] as unknown as (request: RequestOf<C>) => Promise<ResponseOf<C>>)(request),
    on: <E extends EventChannel>(event: E, listener: (payload: EventOf<E>) => void) =>
      (bridge[eventSubscribers[event]] as (listener: (payload: EventOf<E>) => void) => () => void)(listener),
  };
}
