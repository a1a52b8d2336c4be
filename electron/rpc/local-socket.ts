// The home's local socket (<home>/engine.sock, mode 0600): newline-delimited JSON frames. A CLI
// finds a running engine here; file permissions are its authentication: a peer is the engine's
// OS user (an administrator) until it signs in with an account (auth.resume, auth.login).
import { chmod, rm } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import type { ServerFrame } from '../../shared/contract.ts';
import type { Engine } from '../engine/engine.ts';
import { LifeboatError, toWireError, isErrnoCode } from '../errors.ts';
import { MAX_FRAME_BYTES, parseClientFrame, servePeer } from './frames.ts';
import { FrameClient } from '../../shared/frame-client.ts';
import { Peer, osCaller } from '../auth/peer.ts';

// sun_path holds 108 bytes on Linux, including the terminating NUL.
const MAX_SOCKET_PATH = 107;
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** The longest frame the CLI takes from its engine: an answer can be far larger than a request
 * (a folder of 20,000 entries is about 2 MiB of JSON; this bound holds some two million). */
const MAX_ENGINE_FRAME_CHARS = 256 * 1024 * 1024;

/** Calls `onLine` for each newline-delimited line; at a line longer than `maxChars` it calls
 * `tooLong` (which ends the connection) and reads nothing more. Each chunk is searched once: a
 * frame of many chunks costs its length, not its length times its chunks. */
function lines(socket: Socket, maxChars: number, onLine: (line: string) => void, tooLong: () => void): void {
  let pending: string[] = [];
  let pendingChars = 0;
  let over = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    if (over) return;
    let start = 0;
    for (let newline = chunk.indexOf('\n'); newline >= 0; newline = chunk.indexOf('\n', start)) {
      pending.push(chunk.slice(start, newline));
      const line = pending.join('');
      pending = [];
      pendingChars = 0;
      start = newline + 1;
      if (line.trim()) onLine(line);
    }
    if (start < chunk.length) {
      pending.push(chunk.slice(start));
      pendingChars += chunk.length - start;
    }
    if (pendingChars > maxChars) {
      over = true;
      pending = [];
      tooLong();
    }
  });
}

/** Is an engine already serving this home? A stale socket file from a crash is removed. */
export async function engineIsRunning(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The home's socket as its engine holds it: `close` also ends the CLI connections on it (a
 * server's close alone waits for them, and a CLI following a long job would hold it open). */
export type LocalSocketServer = { close(): Promise<void> };

/** Listens on the home's socket, which is also the home's lock: a second engine for the same
 * home fails here. `engine` is read per connection, so the socket can be claimed before the
 * engine has finished opening. */
export async function listenLocalSocket(engine: () => Engine | null, socketPath: string): Promise<LocalSocketServer> {
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    throw new LifeboatError(
      'bad-request',
      `the home folder's path is too long for its engine socket (${socketPath}); use a shorter --home`,
    );
  }
  if (await engineIsRunning(socketPath)) throw new LifeboatError('conflict', `another engine already serves this home (${socketPath})`);
  await rm(socketPath, { force: true });
  const connections = new Set<Socket>();
  const server = createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => socket.destroy());
    const send = (frame: ServerFrame): void => {
      if (!socket.writable) return;
      // A peer that does not read its events is cut off rather than buffered without end.
      if (socket.writableLength > MAX_BUFFERED_BYTES) return void socket.destroy();
      socket.write(`${JSON.stringify(frame)}\n`);
    };
    const ready = engine();
    if (!ready) {
      send({ type: 'fatal', error: { code: 'unavailable', message: 'the engine is still starting; try again' } });
      socket.end();
      return;
    }
    const peer = servePeer(ready, new Peer(osCaller()), send);
    socket.on('close', () => peer.close());
    let refused = false;
    /** One clear error, then nothing more from this peer. */
    const refuse = (error: unknown): void => {
      send({ type: 'fatal', error: toWireError(error) });
      refused = true;
      socket.end();
    };
    lines(
      socket,
      MAX_FRAME_BYTES,
      (line) => {
        if (refused) return;
        try {
          peer.handle(parseClientFrame(line));
        } catch (error) {
          refuse(error);
        }
      },
      () => refuse(new LifeboatError('bad-request', 'frame larger than 1 MiB')),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  // Once listening, a failed accept (EMFILE, ENFILE) costs that one connection, not the engine.
  server.on('error', () => undefined);
  await chmod(socketPath, 0o600);
  return {
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of connections) socket.destroySoon();
      await closed;
    },
  };
}

export async function connectLocalSocket(socketPath: string): Promise<FrameClient> {
  const socket = await new Promise<Socket>((resolve, reject) => {
    const candidate = createConnection(socketPath);
    candidate.once('connect', () => resolve(candidate));
    candidate.once('error', (error) =>
      reject(isErrnoCode(error, 'ENOENT') ? new LifeboatError('unavailable', 'no engine is running') : error),
    );
  });
  const client = new FrameClient(
    (text) => socket.write(`${text}\n`),
    () => socket.end(),
  );
  lines(
    socket,
    MAX_ENGINE_FRAME_CHARS,
    (line) => client.receive(line),
    () => {
      client.disconnected(`the engine sent an answer longer than ${MAX_ENGINE_FRAME_CHARS / 1024 / 1024} MiB`);
      socket.destroy();
    },
  );
  socket.on('close', () => client.disconnected('the engine closed the connection'));
  socket.on('error', () => undefined);
  return client;
}
