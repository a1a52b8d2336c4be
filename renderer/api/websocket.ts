// The console in a browser: the one-time token from the URL is traded for a session key, kept
// for this tab only, so a reload reconnects without the token.
import type { LifeboatApi } from '../../shared/contract.ts';
import { FrameClient, RemoteError } from '../../shared/frame-client.ts';

const SESSION_KEY = 'lifeboat.session';

export function connectWebSocket(): Promise<LifeboatApi> {
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get('token');
  const secret = fromUrl ?? sessionStorage.getItem(SESSION_KEY);
  if (fromUrl) history.replaceState(null, '', location.pathname);
  if (!secret) return Promise.reject(new RemoteError('unauthorized', 'open the console with the URL `lifeboat serve` printed (it carries a one-time token)'));
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/rpc`);
  const client = new FrameClient((text) => socket.send(text), () => socket.close());
  return new Promise((resolve, reject) => {
    socket.addEventListener('open', () => socket.send(JSON.stringify({ type: 'hello', token: secret })));
    socket.addEventListener('message', (message: MessageEvent<string>) => {
      const frame = JSON.parse(message.data) as { type: string; session?: string; error?: { code: string; message: string } };
      if (frame.type === 'welcome' && frame.session) {
        sessionStorage.setItem(SESSION_KEY, frame.session);
        resolve(client);
      } else if (frame.type === 'fatal' && frame.error) {
        sessionStorage.removeItem(SESSION_KEY);
        reject(new RemoteError(frame.error.code, frame.error.message));
      } else {
        client.receive(message.data);
      }
    });
    socket.addEventListener('close', () => {
      client.disconnected('the connection to the engine closed; reload to reconnect');
      reject(new RemoteError('unavailable', 'could not connect to the engine'));
    });
  });
}
