// The console in a browser: the one-time token from the URL is traded for a session key, kept
// for this tab only, so a reload reconnects without the token. When the engine ends the session
// (idle too long, too old, revoked) it closes the socket with the signed-out code and says why.
// When the connection drops for any other reason (the engine stopped, restarted, the network),
// the console says so at once and reconnects by itself with the session key (the engine keeps
// session keys across restarts); requests made meanwhile fail with the engine-unreachable error.
import type { EventChannel, EventOf, LifeboatApi, RequestChannel, RequestOf, ResponseOf } from '../../shared/contract.ts';
import { FrameClient, RemoteError } from '../../shared/frame-client.ts';
import { closeCodes } from '../../shared/generated/channels.ts';
import type { ConnectionState } from '../store.ts';

const SESSION_KEY = 'lifeboat.session';
/** Waits between attempts: doubling from 1 s to 10 s. */
const RETRY_MS = [1_000, 2_000, 4_000, 8_000, 10_000];

export type ConnectionHooks = {
  /** The engine ended the session (before or after connecting). */
  onSignedOut(message: string): void;
  onState(state: ConnectionState): void;
  /** On each new connection after the first, before it is used (sign in again, refetch). */
  onReconnected(api: LifeboatApi): Promise<void>;
};

type Opened = { client: FrameClient; closed: Promise<{ code: number; fatal: string | null }> };

/** One socket: resolves once the engine welcomes the key; rejects with why it did not. */
function open(secret: string, onSignedOut: (message: string) => void): Promise<Opened> {
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/rpc`);
  const client = new FrameClient(
    (text) => socket.send(text),
    () => socket.close(),
  );
  let fatal: string | null = null;
  const closed = new Promise<{ code: number; fatal: string | null }>((resolve) =>
    socket.addEventListener('close', (event) => resolve({ code: event.code, fatal })),
  );
  return new Promise((resolve, reject) => {
    socket.addEventListener('open', () => socket.send(JSON.stringify({ type: 'hello', token: secret })));
    socket.addEventListener('message', (message: MessageEvent<string>) => {
      let frame: { type?: unknown; session?: unknown; error?: { message?: unknown } };
      try {
        frame = JSON.parse(message.data) as typeof frame;
      } catch {
        return client.receive(message.data);
      }
      if (frame.type === 'welcome' && typeof frame.session === 'string') {
        sessionStorage.setItem(SESSION_KEY, frame.session);
        resolve({ client, closed });
      } else {
        if (frame.type === 'fatal') {
          fatal = typeof frame.error?.message === 'string' ? frame.error.message : 'the engine closed the session';
          sessionStorage.removeItem(SESSION_KEY);
        }
        client.receive(message.data);
      }
    });
    void closed.then(({ code }) => {
      client.disconnected(fatal ?? 'the connection to the engine closed');
      if (code === closeCodes.signedOut) onSignedOut(fatal ?? 'signed out');
      reject(new RemoteError(fatal === null ? 'unavailable' : 'unauthorized', fatal ?? 'could not connect to the engine'));
    });
  });
}

/** The contract over whichever socket is open now; listeners stay across reconnections. */
class ReconnectingApi implements LifeboatApi {
  private client: FrameClient | null = null;
  private readonly listeners = new Map<string, Set<(payload: never) => void>>();
  private readonly forwarded = new Set<string>();

  use(client: FrameClient | null): void {
    this.client = client;
    this.forwarded.clear();
    if (client) for (const event of this.listeners.keys()) this.forward(event as EventChannel);
  }

  invoke<C extends RequestChannel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
    if (!this.client) return Promise.reject(new RemoteError('unavailable', 'the engine is unreachable; the console is reconnecting'));
    return this.client.invoke(channel, request);
  }

  on<E extends EventChannel>(event: E, listener: (payload: EventOf<E>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    this.forward(event);
    return () => void set.delete(listener as (payload: never) => void);
  }

  private forward(event: EventChannel): void {
    if (!this.client || this.forwarded.has(event)) return;
    this.forwarded.add(event);
    this.client.on(event, (payload) => {
      for (const listener of this.listeners.get(event) ?? []) listener(payload as never);
    });
  }
}

export async function connectWebSocket(hooks: ConnectionHooks): Promise<LifeboatApi> {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get('token');
  const secret = fromUrl ?? sessionStorage.getItem(SESSION_KEY);
  if (fromUrl) history.replaceState(null, '', location.pathname);
  if (!secret)
    throw new RemoteError('unauthorized', 'open the console with the URL `lifeboat serve` printed (it carries a one-time token)');
  const api = new ReconnectingApi();
  const first = await open(secret, hooks.onSignedOut);
  api.use(first.client);
  void keepConnected(api, first, hooks);
  return api;
}

/** After a drop: say so, then try again with the session key until the engine answers, or until
 * it says the key is no good (then there is nothing to reconnect to). */
async function keepConnected(api: ReconnectingApi, opened: Opened, hooks: ConnectionHooks): Promise<void> {
  let current = opened;
  for (;;) {
    const { code, fatal } = await current.closed;
    api.use(null);
    if (code === closeCodes.signedOut) return;
    const since = Date.now();
    const reason = fatal ?? 'the connection to the engine closed';
    let attempt = 0;
    let next: Opened | null = null;
    while (!next) {
      attempt += 1;
      hooks.onState({ state: 'reconnecting', since, attempt, reason });
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(attempt - 1, RETRY_MS.length - 1)]));
      const key = sessionStorage.getItem(SESSION_KEY);
      if (!key) return hooks.onState({ state: 'lost', reason: 'this tab has no console session key any more' });
      try {
        next = await open(key, hooks.onSignedOut);
      } catch (error) {
        if (error instanceof RemoteError && error.code === 'unauthorized') return hooks.onState({ state: 'lost', reason: error.message });
      }
    }
    current = next;
    api.use(current.client);
    await hooks.onReconnected(api).catch(() => undefined);
    hooks.onState({ state: 'connected' });
  }
}
