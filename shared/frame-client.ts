// Client side of the frame protocol: the CLI over the home's local socket, the browser console
// and tests over the WebSocket. It implements the LifeboatApi the console uses over Electron IPC.
import type { ErrorCode, EventChannel, EventOf, LifeboatApi, RequestChannel, RequestOf, ResponseOf, ServerFrame } from './contract.ts';

/** An error the engine reported, with its stable code (one of the contract's). */
export class RemoteError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'RemoteError';
    this.code = code;
  }
}

type Waiter = { resolve: (value: unknown) => void; reject: (error: Error) => void };

export class FrameClient implements LifeboatApi {
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  private readonly listeners = new Map<string, Set<(payload: never) => void>>();
  private closedReason: string | null = null;
  private readonly write: (text: string) => void;
  private readonly end: () => void;
  private lose: (reason: string) => void = () => undefined;
  /** Resolves with the reason once the connection is gone (so a follower of a job can tell a
   * dropped engine from a job still running). */
  readonly disconnection: Promise<string> = new Promise((resolve) => {
    this.lose = resolve;
  });

  constructor(write: (text: string) => void, end: () => void) {
    this.write = write;
    this.end = end;
  }

  invoke<C extends RequestChannel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
    if (this.closedReason) return Promise.reject(new RemoteError('unavailable', this.closedReason));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.write(JSON.stringify({ type: 'request', id, channel, payload: request }));
    });
  }

  on<E extends EventChannel>(event: E, listener: (payload: EventOf<E>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => void set.delete(listener as (payload: never) => void);
  }

  receive(text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      this.disconnected('the engine sent a frame that is not JSON');
      return;
    }
    if (frame.type === 'response') {
      const waiter = this.waiting.get(frame.id);
      this.waiting.delete(frame.id);
      if (!waiter) return;
      if (frame.ok) waiter.resolve(frame.payload);
      else waiter.reject(new RemoteError(frame.error.code, frame.error.message));
    } else if (frame.type === 'event') {
      for (const listener of this.listeners.get(frame.event) ?? []) listener(frame.payload as never);
    } else if (frame.type === 'fatal') {
      this.disconnected(frame.error.message);
    }
  }

  disconnected(reason: string): void {
    this.closedReason ??= reason;
    this.lose(this.closedReason);
    for (const waiter of this.waiting.values()) waiter.reject(new RemoteError('unavailable', reason));
    this.waiting.clear();
  }

  close(): void {
    this.disconnected('closed');
    this.end();
  }
}
