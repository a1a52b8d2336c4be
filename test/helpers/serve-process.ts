// A real `lifeboat serve` process for the tests (stopped after the file), and the small clients
// they talk to it with: a WebSocket console peer, a raw TCP exchange, and "is it still serving?".
import assert from 'node:assert/strict';
import { connect as connectTcp } from 'node:net';
import { after } from 'node:test';
import { spawnServe, type ServeChild } from '../../scripts/serve-child.ts';
import WebSocket from 'ws';

export { cli, type ServeOutput } from '../../scripts/serve-child.ts';

export type ServeProcess = ServeChild & { origin: string; token: string; port: number };

/** Starts `lifeboat --home HOME serve --port 0 --json ARGS…` and waits for its JSON line (at most
 * a minute: then the process is killed and this fails, so no serve is ever left running). Call it
 * at a test file's top level or in a test, not in before(): it registers the after() that stops it. */
export async function startServe(home: string, ...args: string[]): Promise<ServeProcess> {
  return startServeWithEnv(process.env, home, ...args);
}

/** startServe, the process given `env` (a kill point, say). */
export async function startServeWithEnv(env: NodeJS.ProcessEnv, home: string, ...args: string[]): Promise<ServeProcess> {
  const serve = await spawnServe(env, home, args, (stop) => after(stop));
  const url = new URL(serve.printed.url);
  return { ...serve, origin: url.origin, token: new URLSearchParams(url.hash.slice(1)).get('token') ?? '', port: Number(url.port) };
}

export type Peer = { socket: WebSocket; frames: unknown[]; closed: Promise<{ code: number; reason: string }> };

/** A WebSocket to `/rpc` that records every frame and how it closed. */
export function openPeer(origin: string, options: { origin?: string; ca?: string; rejectUnauthorized?: boolean } = {}): Promise<Peer> {
  const socket = new WebSocket(`${origin.replace(/^http/, 'ws')}/rpc`, {
    headers: { origin: options.origin ?? origin },
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
  });
  const frames: unknown[] = [];
  socket.on('message', (data) => frames.push(JSON.parse(data.toString())));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  socket.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, frames, closed }));
    socket.once('unexpected-response', (_request, response) => reject(new Error(`upgrade refused: ${response.statusCode}`)));
    socket.once('error', reject);
  });
}

/** The next frame of a type (or the close, as null), without timing anything. */
export async function nextFrame(peer: Peer, matches: (frame: Record<string, unknown>) => boolean): Promise<Record<string, unknown> | null> {
  let closed = false;
  void peer.closed.then(() => (closed = true));
  // Bounded: a server that neither answers nor closes in 30 s fails the test.
  for (let tries = 0; tries < 6000; tries++) {
    const found = peer.frames.find((frame) => matches(frame as Record<string, unknown>));
    if (found) return found as Record<string, unknown>;
    if (closed) return null;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('the server neither answered nor closed the socket');
}

/** Says hello with a token or session key; the welcome's session key, or null when refused. */
export async function hello(peer: Peer, secret: string): Promise<string | null> {
  peer.socket.send(JSON.stringify({ type: 'hello', token: secret }));
  const welcome = await nextFrame(peer, (frame) => frame.type === 'welcome' || frame.type === 'fatal');
  return welcome?.type === 'welcome' ? (welcome.session as string) : null;
}

/** Asks one request and returns its response frame (null when the socket closed instead). */
export async function ask(peer: Peer, id: number, channel: string, payload: unknown = {}): Promise<Record<string, unknown> | null> {
  peer.socket.send(JSON.stringify({ type: 'request', id, channel, payload }));
  return nextFrame(peer, (frame) => frame.type === 'response' && frame.id === id);
}

/** Writes bytes on a fresh TCP connection and returns all the server sent until it closed.
 * `halfClose` ends our side at once (any bytes, no waiting for timeouts); without it the request
 * must ask for `Connection: close`, as Node's server drops a half-closed peer's pending answer. */
export function rawExchange(port: number, bytes: Uint8Array, options: { halfClose: boolean } = { halfClose: true }): Promise<Buffer> {
  const host = '127.0.0.1';
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('connect', () => (options.halfClose ? socket.end(bytes) : socket.write(bytes)));
  });
}

/** The HTTP status of a raw answer, or null when the server just closed. */
export function statusOf(answer: Buffer): number | null {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(answer.toString('latin1'));
  return match ? Number(match[1]) : null;
}

/** The engine still serves: the process lives, the page loads, a session answers a request. */
export async function assertServing(serve: ServeProcess, sessionKey: string): Promise<void> {
  assert.equal(serve.child.exitCode, null, 'the serve process is alive');
  assert.equal(serve.child.signalCode, null, 'the serve process is alive');
  assert.equal((await fetch(`${serve.origin}/`)).status, 200);
  const peer = await openPeer(serve.origin);
  try {
    assert.equal(await hello(peer, sessionKey), sessionKey);
    // Open to a console that has not signed in: it proves the session key, not an account.
    const info = await ask(peer, 1, 'auth.whoami');
    assert.equal(info?.ok, true);
  } finally {
    peer.socket.close();
  }
}
