// Typed engine events: every listener registration returns its unsubscribe.
import { eventChannels, type EventChannel, type EventOf } from '../../shared/contract.ts';

type Listener<E extends EventChannel> = (payload: EventOf<E>) => void;

export class EngineEvents {
  private readonly listeners = new Map<EventChannel, Set<(payload: never) => void>>();

  on<E extends EventChannel>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => void set.delete(listener as (payload: never) => void);
  }

  /** Subscribes one listener to every event, for transports that forward all of them. */
  onAny(listener: <E extends EventChannel>(event: E, payload: EventOf<E>) => void): () => void {
    const offs = (Object.keys(eventChannels) as EventChannel[]).map((event) =>
      this.on(event, (payload) => listener(event, payload as never)),
    );
    return () => offs.forEach((off) => off());
  }

  emit<E extends EventChannel>(event: E, payload: EventOf<E>): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as Listener<E>)(payload);
      } catch {
        // A failing listener (a closed socket) must not stop the engine or other listeners.
      }
    }
  }
}
