// `lifeboat serve`: the console over HTTP + WebSocket on loopback, or HTTPS + WSS anywhere (see
// listen-policy.ts). The page is served with a strict CSP; the socket checks Host and Origin,
// then wants a one-time token (printed in the URL) which it trades for a session key, so a
// leaked URL is worthless once used. Session keys end when idle, when old, or when revoked
// (auth/session-store.ts), and the sockets under them are closed saying why.
// Every byte from the network is read by code that cannot throw past its request or socket:
// bad input gets an HTTP status, a `fatal` frame and a close code, never an engine crash.
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { hostname } from 'node:os';
import { extname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { CloseCode, type ServerFrame, type WireError } from '../../shared/contract.ts';
import type { Engine } from '../engine/engine.ts';
import { LifeboatError, toWireError } from '../errors.ts';
import { MAX_FRAME_BYTES, parseClientFrame, servePeer } from './frames.ts';
import { isLoopbackAddress } from './listen-policy.ts';
import { consoleFile, requestPath } from './request-target.ts';
import type { SessionEndReason } from '../auth/session-store.ts';
import { Peer } from '../auth/peer.ts';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
};

/** Slow clients (slowloris) lose their connection instead of holding it. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const HELLO_TIMEOUT_MS = 10_000;
/** A peer that does not read its events is cut off rather than buffered without end. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** A WebSocket ping is answered by a pong: more than this many in a window is a flood. */
const MAX_PINGS_PER_WINDOW = 100;
const PING_WINDOW_MS = 10_000;
const SWEEP_MS = 30_000;
/** Sockets that have not said hello yet: beyond this, new ones are told to come back later, so
 * idle unauthenticated sockets cannot keep the operator out. */
const MAX_WAITING_FOR_HELLO = 64;
/** TCP connections at once (each costs a descriptor). */
const MAX_CONNECTIONS = 1024;

export type TlsMaterial = { cert: string; key: string };
export type ConsoleServerOptions = {
  host: string;
  port: number;
  rendererDir: string;
  allowRemote?: boolean;
  /** HTTPS + WSS under this certificate; required beyond loopback. */
  tls?: TlsMaterial | null;
  /** How often expired session keys are looked for (their sockets closed). */
  sweepMs?: number;
};
export type ConsoleServer = { url: string; origin: string; mintToken(): string; close(): Promise<void> };

const digestOf = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export const signedOutMessage: Record<SessionEndReason, string> = {
  expired: 'signed out: session expired; open a new console URL from `lifeboat serve`',
  revoked: 'signed out: session revoked by an operator',
};

export async function startConsoleServer(engine: Engine, options: ConsoleServerOptions): Promise<ConsoleServer> {
  const tls = options.tls ?? null;
  if (!isLoopbackAddress(options.host)) {
    if (!options.allowRemote)
      throw new LifeboatError(
        'bad-request',
        `refusing to serve the console on ${options.host}: pass --allow-remote to listen beyond loopback`,
      );
    if (!tls)
      throw new LifeboatError(
        'bad-request',
        `refusing to serve the console on ${options.host} over plain HTTP: beyond loopback it is served over HTTPS only`,
      );
  }
  const scheme = tls ? 'https' : 'http';
  /** One-time tokens by digest; each is deleted as it is used. */
  const tokens = new Set<string>();
  /** Sockets by session id, to close them when their session ends. */
  const socketsOf = new Map<string, Set<WebSocket>>();
  /** Host header values this server answers to (loopback); null accepts any well-formed one. */
  let allowedHosts: Set<string> | null = new Set();

  const hostOf = (request: IncomingMessage): string | null => {
    const host = request.headers.host;
    if (host === undefined || host.length > 255 || !/^[A-Za-z0-9.\-:[\]]+$/.test(host)) return null;
    if (allowedHosts && !allowedHosts.has(host.toLowerCase())) return null;
    return host.toLowerCase();
  };

  const serveFile = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const host = hostOf(request);
    if (!host) {
      response.writeHead(421).end();
      return;
    }
    const path = requestPath(request.url);
    const relative = path === null ? null : consoleFile(path);
    if (relative === null) {
      response.writeHead(path === null ? 400 : 404).end();
      return;
    }
    let body: Buffer;
    try {
      body = await readFile(join(options.rendererDir, relative));
    } catch {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, {
      'content-type': contentTypes[extname(relative)] ?? 'application/octet-stream',
      'content-security-policy': `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      ...(tls ? { 'strict-transport-security': 'max-age=31536000' } : {}),
    });
    response.end(body);
  };

  const onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    serveFile(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  };
  const timeouts = {
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: 5_000,
    connectionsCheckingInterval: 1_000,
  };
  const http: Server = tls
    ? createHttpsServer({ ...timeouts, cert: tls.cert, key: tls.key, handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, onRequest)
    : createHttpServer(timeouts, onRequest);
  http.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || error.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  http.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());
  http.maxConnections = MAX_CONNECTIONS;

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const refuseUpgrade = (socket: Duplex, status: string): void => {
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  };
  http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      const host = hostOf(request);
      if (requestPath(request.url) !== '/rpc') return refuseUpgrade(socket, '404 Not Found');
      // Same origin only: the page this server served, under the name the browser used for it.
      if (!host || request.headers.origin !== `${scheme}://${host}`) return refuseUpgrade(socket, '403 Forbidden');
      wss.handleUpgrade(request, socket, head, (ws) => accept(ws));
    } catch {
      socket.destroy();
    }
  });

  const signOut = (ws: WebSocket, reason: SessionEndReason): void => {
    refuse(ws, { code: 'unauthorized', message: signedOutMessage[reason] }, CloseCode.signedOut, `session ${reason}`);
  };
  /** The sign-in each socket carries: it ends with the console session it came through. */
  const connectionOf = new WeakMap<WebSocket, Peer>();
  const offSessionEnd = engine.sessions.onEnd((id, reason) => {
    for (const ws of socketsOf.get(id) ?? []) {
      // A revoked or expired console key also ends the account sign-in made through it, so a tab
      // given a new console URL is not silently signed back in with the old token.
      const token = connectionOf.get(ws)?.token;
      if (token) engine.auth.logout(token);
      signOut(ws, reason);
    }
    socketsOf.delete(id);
  });
  const sweeper = setInterval(() => engine.sessions.sweep(), options.sweepMs ?? SWEEP_MS);
  sweeper.unref();

  let waitingForHello = 0;
  const accept = (ws: WebSocket): void => {
    if (waitingForHello >= MAX_WAITING_FOR_HELLO) {
      ws.close(CloseCode.tryAgainLater, 'too many sockets waiting to sign in');
      return;
    }
    waitingForHello += 1;
    let waiting = true;
    const stopWaiting = (): void => {
      if (waiting) waitingForHello -= 1;
      waiting = false;
    };
    let sessionId: string | null = null;
    let peer: ReturnType<typeof servePeer> | null = null;
    let pingWindowStart = Date.now();
    let pings = 0;
    const send = (frame: ServerFrame): void => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) return void ws.terminate();
      ws.send(JSON.stringify(frame));
    };
    const helloTimer = setTimeout(() => ws.close(CloseCode.noHello, 'no hello'), HELLO_TIMEOUT_MS);

    const hello = (secret: string): void => {
      const oneTime = digestOf(secret);
      if (tokens.delete(oneTime)) {
        const created = engine.sessions.create();
        sessionId = created.id;
        send({ type: 'welcome', session: created.key });
      } else {
        const check = engine.sessions.authenticate(secret);
        if (!check.ok && check.reason !== 'unknown') return signOut(ws, check.reason);
        if (!check.ok) {
          return refuse(
            ws,
            { code: 'unauthorized', message: 'the console token is wrong or already used; start `lifeboat serve` again for a new URL' },
            CloseCode.unauthorized,
            'unauthorized',
          );
        }
        sessionId = check.id;
        send({ type: 'welcome', session: secret });
      }
      clearTimeout(helloTimer);
      stopWaiting();
      let sockets = socketsOf.get(sessionId);
      if (!sockets) socketsOf.set(sessionId, (sockets = new Set()));
      sockets.add(ws);
      // The browser console is nobody until it signs in with an account (auth.login).
      const connection = new Peer(null);
      connectionOf.set(ws, connection);
      peer = servePeer(engine, connection, send);
    };

    ws.on('message', (data, isBinary) => {
      try {
        if (isBinary) throw new LifeboatError('bad-request', 'frames are JSON text, not binary');
        const frame = parseClientFrame(data.toString());
        if (peer && sessionId) {
          // An ended session's sockets are being closed by its onEnd listener.
          if (engine.sessions.touch(sessionId)) peer.handle(frame);
          return;
        }
        if (frame.type !== 'hello') throw new LifeboatError('unauthorized', 'say hello with the console token first');
        hello(frame.token);
      } catch (error) {
        refuse(ws, toWireError(error), CloseCode.badFrame, 'bad frame');
      }
    });
    ws.on('ping', () => {
      const now = Date.now();
      if (now - pingWindowStart > PING_WINDOW_MS) {
        pingWindowStart = now;
        pings = 0;
      }
      if (++pings > MAX_PINGS_PER_WINDOW) ws.terminate();
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      stopWaiting();
      peer?.close();
      if (sessionId) socketsOf.get(sessionId)?.delete(ws);
    });
    ws.on('error', () => ws.terminate());
  };

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => resolve());
  });
  // Once listening, a failed accept (EMFILE, ENFILE) costs that one connection, not the engine.
  http.on('error', () => undefined);
  const address = http.address() as AddressInfo;
  const port = address.port;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const boundLoopback = isLoopbackAddress(address.address);
  if (!boundLoopback && !tls) {
    // A name like `localhost` may resolve beyond loopback: the bound address decides.
    await new Promise<void>((resolve) => http.close(() => resolve()));
    clearInterval(sweeper);
    offSessionEnd();
    throw new LifeboatError(
      'bad-request',
      `refusing to serve the console on ${address.address} (from ${options.host}) over plain HTTP: it is not a loopback address`,
    );
  }
  allowedHosts = boundLoopback ? new Set([`${hostForUrl}:${port}`, `localhost:${port}`]) : null;
  // A wildcard bind is reached by the machine's name, not by 0.0.0.0.
  const wildcard = address.address === '0.0.0.0' || address.address === '::';
  const origin = `${scheme}://${wildcard ? hostname() : hostForUrl}:${port}`;
  const mintToken = (): string => {
    const token = randomBytes(24).toString('base64url');
    tokens.add(digestOf(token));
    return token;
  };
  return {
    url: origin,
    origin,
    mintToken,
    close: async () => {
      clearInterval(sweeper);
      offSessionEnd();
      for (const client of wss.clients) client.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** Tells the peer why in a `fatal` frame, then closes with a code a console can act on. */
function refuse(ws: WebSocket, error: WireError, code: number, reason: string): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'fatal', error } satisfies ServerFrame));
  ws.close(code, reason);
}
