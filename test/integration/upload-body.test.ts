// The datastore upload's body (soap-client's send): pieces of memory the giver reuses as soon as
// they are given back, sent to a real HTTP server on loopback that reads slowly (so the socket
// pushes back). What arrives is exactly what was given, although each piece is scribbled over
// the moment it is released; a body that fails part way, or a server that drops the upload, ends
// the request with one clear error and the giver's clean-up runs (nothing waits for ever).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DiskChunk } from '../../electron/disks/disk.ts';
import { send } from '../../electron/drivers/vsphere/soap-client.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { listenOnLoopback } from '../helpers/loopback-server.ts';

const PIECE = 256 * 1024;
const PIECES = 48;
const SLOTS = 3;

/** Piece i's bytes: a pattern no other piece has. */
function pattern(index: number): Buffer {
  const bytes = Buffer.alloc(PIECE);
  for (let at = 0; at < PIECE; at += 4) bytes.writeUInt32LE((index * PIECE + at) >>> 0, at);
  return bytes;
}

/** A ring of SLOTS reused buffers, as decodedDisk gives: a released slot is overwritten at once
 * (as the next run decoded into it would be). `failAt`: the piece whose making throws instead. */
function ringBody(state: { released: number; cleanedUp: boolean }, failAt = -1): AsyncGenerator<DiskChunk> {
  const ring = new Uint8Array(new SharedArrayBuffer(SLOTS * PIECE));
  const free = Array.from({ length: SLOTS }, (_, slot) => slot);
  let wake: (() => void) | null = null;
  return (async function* () {
    try {
      for (let index = 0; index < PIECES; index++) {
        while (free.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        if (index === failAt) throw new LifeboatError('corrupt-backup', `piece ${index} is damaged`);
        const slot = free.shift() as number;
        const bytes = ring.subarray(slot * PIECE, (slot + 1) * PIECE);
        bytes.set(pattern(index));
        let given = false;
        yield {
          bytes,
          release: () => {
            if (given) return;
            given = true;
            state.released++;
            bytes.fill(0xee);
            free.push(slot);
            wake?.();
            wake = null;
          },
        };
      }
    } finally {
      state.cleanedUp = true;
    }
  })();
}

/** A server that reads each upload slowly, in small bites; `dropAfter`: bytes after which it closes the connection. */
async function slowServer(dropAfter = Infinity): Promise<{ url: URL; received: Buffer[] }> {
  const received: Buffer[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    const parts: Buffer[] = [];
    let count = 0;
    request.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      count += chunk.length;
      if (count > dropAfter) {
        request.socket.destroy();
        return;
      }
      request.pause();
      setTimeout(() => request.resume(), 1);
    });
    request.on('end', () => {
      received.push(Buffer.concat(parts));
      response.writeHead(201).end();
    });
  });
  const port = await listenOnLoopback(server);
  return { url: new URL(`http://127.0.0.1:${port}`), received };
}

const put = (url: URL, body: AsyncIterable<DiskChunk>): ReturnType<typeof send> =>
  send(
    { url, insecure: false },
    { method: 'PUT', path: '/folder/x', headers: { 'content-length': PIECES * PIECE }, body: { chunks: body, length: PIECES * PIECE } },
  );

test('every piece arrives as it was given, though its memory is reused the moment it is released', async () => {
  const { url, received } = await slowServer();
  const state = { released: 0, cleanedUp: false };
  const response = await put(url, ringBody(state));
  assert.equal(response.status, 201);
  assert.equal(received.length, 1);
  assert.ok(received[0]?.equals(Buffer.concat(Array.from({ length: PIECES }, (_, index) => pattern(index)))));
  assert.equal(state.released, PIECES);
  assert.ok(state.cleanedUp);
});

test('a piece that fails to come ends the upload with its own error', async () => {
  const { url } = await slowServer();
  const state = { released: 0, cleanedUp: false };
  await assert.rejects(put(url, ringBody(state, 20)), { code: 'corrupt-backup', message: 'piece 20 is damaged' });
  assert.ok(state.cleanedUp);
});

test('a server that drops the upload part way: one clear error, and the body is let go', async () => {
  const { url } = await slowServer(2 * 1024 * 1024);
  const state = { released: 0, cleanedUp: false };
  await assert.rejects(put(url, ringBody(state)), (error: Error) => {
    assert.ok(error instanceof LifeboatError);
    assert.equal(error.code, 'unavailable');
    assert.match(error.message, /^cannot reach vSphere at http:\/\/127\.0\.0\.1:\d+: (ECONNRESET|EPIPE)$/);
    return true;
  });
  // The body's clean-up follows the request's end: a bounded wait for it.
  for (let tries = 0; tries < 100 && !state.cleanedUp; tries++) await sleep(20);
  assert.ok(state.cleanedUp, 'the body generator was closed');
});
