// `lifeboat serve`: the console over HTTP + WebSocket on a loopback address. The page is served
// with a strict CSP; the socket checks Origin, then wants a one-time token (printed in the URL)
// which it trades for a session key, so a leaked URL is worthless once used.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ServerFrame } from '../../shared/contract.ts';
import type { Engine } from '../engine/engine.ts';
import { toWireError } from '../errors.ts';
import { MAX_FRAME_BYTES, parseClientFrame, servePeer } from './frames.ts';
import { Peer } from '../auth/peer.ts';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

export const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

export type ConsoleServer = { url: string; origin: string; mintToken(): string; close(): Promise<void> };

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export async function startConsoleServer(engine: Engine, options: { host: string; port: number; rendererDir: string; allowRemote?: boolean }): Promise<ConsoleServer> {
  if (!LOOPBACK_HOSTS.has(options.host) && !options.allowRemote) {
    throw new Error(`refusing to serve the console on ${options.host}: pass --allow-remote to listen beyond loopback`);
  }
  const tokens = new Set<string>();
  const sessions = new Set<string>();
  let origin = '';

  const serveFile = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    const relative = normalize(path === '/' ? 'index.html' : decodeURIComponent(path).replace(/^\/+/, ''));
    const file = join(options.rendererDir, relative);
    if (relative.startsWith('..') || !file.startsWith(options.rendererDir + sep) || request.method !== 'GET') {
      response.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(file);
      const wsOrigin = origin.replace(/^http/, 'ws');
      response.writeHead(200, {
        'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
        'content-security-policy': `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ${wsOrigin}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-store',
      });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  };

  const http: Server = createServer((request, response) => void serveFile(request, response));
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });

  http.on('upgrade', (request, socket, head) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname;
    if (path !== '/rpc' || request.headers.origin !== origin) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => accept(ws));
  });

  const accept = (ws: WebSocket): void => {
    const send = (frame: ServerFrame): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    let peer: ReturnType<typeof servePeer> | null = null;
    const helloTimer = setTimeout(() => ws.close(4001, 'no hello'), 10_000);
    ws.on('message', (data) => {
      try {
        const frame = parseClientFrame(data.toString());
        if (peer) return peer.handle(frame);
        if (frame.type !== 'hello') throw new Error('say hello with a token first');
        const oneTime = [...tokens].find((token) => sameSecret(token, frame.token));
        const session = [...sessions].find((key) => sameSecret(key, frame.token));
        if (!oneTime && !session) {
          send({ type: 'fatal', error: { code: 'unauthorized', message: 'the console token is wrong or already used; start `lifeboat serve` again for a new URL' } });
          ws.close(4003, 'unauthorized');
          return;
        }
        clearTimeout(helloTimer);
        let key = session;
        if (oneTime) {
          tokens.delete(oneTime);
          key = randomBytes(24).toString('base64url');
          sessions.add(key);
        }
        send({ type: 'welcome', session: key as string });
        // The browser console is nobody until it signs in with an account (auth.login).
        peer = servePeer(engine, new Peer(null), send);
      } catch (error) {
        send({ type: 'fatal', error: toWireError(error) });
        ws.close(4000, 'bad frame');
      }
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      peer?.close();
    });
    ws.on('error', () => ws.terminate());
  };

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => resolve());
  });
  const address = http.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `http://${hostForUrl}:${address.port}`;
  const mintToken = (): string => {
    const token = randomBytes(24).toString('base64url');
    tokens.add(token);
    return token;
  };
  return {
    url: origin,
    origin,
    mintToken,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
