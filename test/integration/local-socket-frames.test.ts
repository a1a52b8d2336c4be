// The home's socket carries newline-delimited frames both ways, with a bound for each way: a
// request over 1 MiB gets one fatal frame from the engine, which then reads nothing more from
// that peer; an answer from the engine may be far larger (a folder of 20,000 entries is about
// 2 MiB of JSON) and reaches the CLI whole, however the stream cuts it. The CLI side is checked
// against a stand-in server that writes chosen bytes in chosen pieces; the engine side against a
// real engine.
import assert from 'node:assert/strict';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { connectLocalSocket } from '../../electron/rpc/local-socket.ts';
import { openEngine, tempDir } from '../helpers/env.ts';

/** A server on a fresh socket that answers each request with `answer(id)`, written in pieces
 * cut at `cuts` (fractions of the whole), each piece flushed before the next. */
async function standIn(answer: (id: number) => string, cuts: number[]): Promise<{ path: string; close(): Promise<void> }> {
  const path = join(await tempDir(), 'engine.sock');
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setEncoding('utf8');
    let buffered = '';
    socket.on('data', async (chunk: string) => {
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const { id } = JSON.parse(buffered.slice(0, newline)) as { id: number };
        buffered = buffered.slice(newline + 1);
        const bytes = Buffer.from(answer(id));
        const at = [0, ...cuts.map((cut) => Math.floor(cut * bytes.length)).sort((a, b) => a - b), bytes.length];
        for (let i = 1; i < at.length; i++) await new Promise((done) => socket.write(bytes.subarray(at[i - 1], at[i]), done));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const response = (id: number, payload: unknown): string => `${JSON.stringify({ type: 'response', id, ok: true, payload })}\n`;

test('an answer of some MiB reaches the CLI whole, however the stream cuts it', async () => {
  const entries = Array.from({ length: 20_000 }, (_, i) => ({
    name: `${'é'.repeat(100)}-${i}`,
    type: 'file',
    size: i,
    mtime: null,
    mode: 0o644,
  }));
  const server = await standIn((id) => response(id, entries), [0.1, 0.5, 0.50001, 0.9]);
  try {
    const client = await connectLocalSocket(server.path);
    const answered = (await client.invoke('files.list', { vm: 'web', point: 'latest', path: '/disk0/part1/many' })) as unknown[];
    assert.ok(JSON.stringify(entries).length > 2 * 1024 * 1024, 'the answer is over 2 MiB');
    assert.deepEqual(answered, entries);
    client.close();
  } finally {
    await server.close();
  }
});

test('property: frames cut anywhere, several in one piece or one over many, arrive as sent', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.string({ maxLength: 2000, unit: 'grapheme' }), { minLength: 1, maxLength: 4 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
      async (payloads, cuts) => {
        // One request, answered by an event per payload and then the response, all in one write.
        const events = payloads.map((payload) => `${JSON.stringify({ type: 'event', event: 'job.updated', payload })}\n`);
        const server = await standIn((id) => `${events.join('')}${response(id, payloads)}`, cuts);
        try {
          const client = await connectLocalSocket(server.path);
          const heard: unknown[] = [];
          client.on('job.updated', (payload) => heard.push(payload));
          assert.deepEqual(await client.invoke('engine.info', {}), payloads);
          assert.deepEqual(heard, payloads);
          client.close();
        } finally {
          await server.close();
        }
      },
    ),
    { numRuns: 30 },
  );
});

test('a request over 1 MiB gets one fatal frame from the engine, and the engine serves on', async () => {
  const engine = await openEngine(join(await tempDir(), 'home'));
  const socketPath = engine.paths.socket;
  const heard = await new Promise<string>((resolve) => {
    const socket = createConnection(socketPath);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
    socket.on('connect', () =>
      socket.write(`{"type":"request","id":1,"channel":"engine.info","payload":"${'x'.repeat(1.5 * 1024 * 1024)}`),
    );
  });
  assert.deepEqual(
    heard
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown),
    [{ type: 'fatal', error: { code: 'bad-request', message: 'frame larger than 1 MiB' } }],
  );
  const client = await connectLocalSocket(socketPath);
  assert.ok(await client.invoke('engine.info', {}), 'the engine serves the next peer');
  client.close();
});
