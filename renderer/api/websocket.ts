// The console in a browser: the one-time token from the URL is traded for a session key, kept
// for this tab only, so a reload reconnects without the token. When the engine ends the session
// (idle too long, too old, revoked) it closes the socket with the signed-out code and says why.
import type { LifeboatApi } from '../../shared/contract.ts';
import { FrameClient, RemoteError } from '../../shared/frame-client.ts';
import { closeCodes } from '../../shared/generated/channels.ts';

const SESSION_KEY = 'lifeboat.session';

/** `onSignedOut` gets the engine's sentence when the session ends, before or after connecting;
 * the promise then stays pending, as there is nothing to connect to. */
export function connectWebSocket(onSignedOut: (message: string) => void): Promise<LifeboatApi> {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get('token');
  const secret = fromUrl ?? sessionStorage.getItem(SESSION_KEY);
  if (fromUrl) history.replaceState(null, '', location.pathname);
  if (!secret)
    return Promise.reject(
      new RemoteError('unauthorized', 'open the console with the URL `lifeboat serve` printed (it carries a one-time token)'),
    );
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/rpc`);
  const client = new FrameClient(
    (text) => socket.send(text),
    () => socket.close(),
  );
  let fatal: string | null = null;
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
        resolve(client);
      } else {
        if (frame.type === 'fatal') {
          fatal = typeof frame.error?.message === 'string' ? frame.error.message : 'the engine closed the session';
          sessionStorage.removeItem(SESSION_KEY);
        }
        client.receive(message.data);
      }
    });
    socket.addEventListener('close', (event) => {
      client.disconnected(fatal ?? 'the connection to the engine closed; reload to reconnect');
      if (event.code === closeCodes.signedOut) onSignedOut(fatal ?? 'signed out');
      else reject(new RemoteError(fatal === null ? 'unavailable' : 'unauthorized', fatal ?? 'could not connect to the engine'));
    });
  });
}
