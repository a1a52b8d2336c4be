// The mover's parser of the engine's bytes (FrameDecoder of electron/movers/protocol.ts): real
// frames cut at any points decode the same; damaged frames (lengths flipped, truncated, not
// JSON, unknown messages, oversize) give a MoverProtocolError or wait for more bytes, never
// another error, never a hang, and never allocate what a length field claims.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  encodeFrame,
  FrameDecoder,
  MAX_HEADER_BYTES,
  MAX_PAYLOAD_BYTES,
  MoverProtocolError,
  type Frame,
  type MoverMessage,
} from '../../electron/movers/protocol.ts';
import { Codec, compressBlock } from '../../electron/repository/codec.ts';

const BLOCK = 64 * 1024;
/** Real block payloads: zeros, text, random bytes (stored as is), each compressed as a backup stores it. */
const samples = [Buffer.alloc(BLOCK), Buffer.alloc(BLOCK, 'a guest wrote this line\n'), randomBytes(BLOCK)].map((data) => {
  const stored = compressBlock(data, Codec.deflate);
  return { codec: stored.codec, payload: Buffer.from(stored.payload), sha256: createHash('sha256').update(data).digest('hex') };
});

const taskId = fc.stringMatching(/^[a-z0-9-]{1,20}$/);
const message: fc.Arbitrary<{ message: MoverMessage; payload: Buffer }> = fc.oneof(
  fc.record({ task: taskId, index: fc.nat({ max: 1_000_000 }), sample: fc.constantFrom(...samples) }).map(({ task, index, sample }) => ({
    message: { type: 'block', task, index, codec: sample.codec, rawLength: BLOCK, sha256: sample.sha256 } as const,
    payload: sample.payload,
  })),
  fc
    .record({
      task: taskId,
      disk: fc.string({ maxLength: 30 }),
      path: fc.constantFrom('vm/vm-flat.vmdk', 'a/b/c.img', 'disk'),
      capacity: fc.integer({ min: 1, max: 2 ** 40 }),
      resumeFrom: fc.nat(),
      create: fc.boolean(),
    })
    .map((task) => ({
      message: { type: 'task', jobId: 'job-1', datastore: 'ds1', blockSize: BLOCK, window: 16 * BLOCK, ...task } as const,
      payload: Buffer.alloc(0),
    })),
  taskId.map((task) => ({ message: { type: 'end', task } as const, payload: Buffer.alloc(0) })),
  taskId.map((task) => ({ message: { type: 'cancel', task } as const, payload: Buffer.alloc(0) })),
  fc.constant({ message: { type: 'ping' } as const, payload: Buffer.alloc(0) }),
  fc
    .string({ maxLength: 200 })
    .map((text) => ({ message: { type: 'refused', code: 'forbidden', message: text } as const, payload: Buffer.alloc(0) })),
);

/** Cuts `bytes` at the given fractions of its length. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((cut) => Math.floor(cut * bytes.length)))].sort((a, b) => a - b);
  return [0, ...at].map((start, i) => bytes.subarray(start, at[i] ?? bytes.length));
}

/** What a decoder makes of the chunks: its frames, or the protocol error it stopped with. */
function decode(chunks: Buffer[]): { frames: Frame[]; error: MoverProtocolError | null } {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  try {
    for (const chunk of chunks) frames.push(...decoder.push(chunk));
  } catch (error) {
    if (!(error instanceof MoverProtocolError)) throw error;
    return { frames, error };
  }
  return { frames, error: null };
}

const wire = (frames: { message: MoverMessage; payload: Buffer }[]): Buffer =>
  Buffer.concat(frames.flatMap(({ message, payload }) => encodeFrame(message, payload)));

test('frames cut at arbitrary points decode to the same messages and payloads', () => {
  fc.assert(
    fc.property(
      fc.array(message, { minLength: 1, maxLength: 8 }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 40 }),
      (sent, cuts) => {
        const { frames, error } = decode(split(wire(sent), cuts));
        assert.equal(error, null);
        assert.deepEqual(
          frames.map((frame) => ({ message: frame.message, payload: Buffer.from(frame.payload) })),
          sent,
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('a real frame with any bytes flipped decodes, waits for more, or is a MoverProtocolError', () => {
  fc.assert(
    fc.property(
      fc.array(message, { minLength: 1, maxLength: 4 }),
      fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), xor: fc.integer({ min: 1, max: 255 }) }), {
        minLength: 1,
        maxLength: 6,
      }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }),
      (sent, flips, cuts) => {
        const bytes = wire(sent);
        for (const { at, xor } of flips) {
          const index = Math.floor(at * bytes.length);
          bytes[index] = (bytes[index] as number) ^ xor;
        }
        decode(split(bytes, cuts)); // throws anything but a MoverProtocolError: the property fails
      },
    ),
    { numRuns: 1000 },
  );
});

test('a truncated frame waits for the rest; the rest completes it', () => {
  fc.assert(
    fc.property(message, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (sent, cut) => {
      const bytes = wire([sent]);
      const at = Math.floor(cut * bytes.length);
      const decoder = new FrameDecoder();
      assert.deepEqual(decoder.push(bytes.subarray(0, at)), []);
      const [frame] = decoder.push(bytes.subarray(at));
      assert.deepEqual(frame?.message, sent.message);
    }),
  );
});

/** A frame whose header is `header` (bytes), with a payload. */
function rawFrame(header: Buffer | string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const bytes = Buffer.from(header);
  const headerLength = Buffer.alloc(4);
  headerLength.writeUInt32BE(bytes.length);
  const payloadLength = Buffer.alloc(4);
  payloadLength.writeUInt32BE(payload.length);
  return Buffer.concat([headerLength, bytes, payloadLength, payload]);
}

const lengthOnly = (length: number): Buffer => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(length);
  return bytes;
};

function withPayloadLength(frame: Buffer, headerLength: number, payloadLength: number): Buffer {
  const copy = Buffer.from(frame);
  copy.writeUInt32BE(payloadLength, 4 + headerLength);
  return copy;
}

test('damaged frames are MoverProtocolErrors that say what is wrong', () => {
  const [block] = samples;
  const good = wire([
    {
      message: { type: 'block', task: 't', index: 0, codec: block!.codec, rawLength: BLOCK, sha256: block!.sha256 },
      payload: block!.payload,
    },
  ]);
  const headerLength = good.readUInt32BE(0);
  const cases: [string, Buffer, RegExp][] = [
    ['a header length of zero', lengthOnly(0), /header length of 0/],
    ['a header length past the bound', lengthOnly(0xffffffff), /header length of 4294967295/],
    ['a header length one past the bound', lengthOnly(MAX_HEADER_BYTES + 1), /out of bounds/],
    ['a payload length past the bound', withPayloadLength(good, headerLength, MAX_PAYLOAD_BYTES + 1), /payload length/],
    ['a header that is not JSON', rawFrame('{"type":"ping"'), /not JSON/],
    ['an unknown message', rawFrame('{"type":"format-disk"}'), /not a message/],
    ['a known message with a field too many', rawFrame('{"type":"ping","also":1}'), /not a message/],
    [
      'a task whose path leaves the datastore',
      rawFrame(
        JSON.stringify({
          type: 'task',
          task: 't',
          jobId: 'j',
          disk: 'd',
          datastore: 'ds',
          path: '../x',
          capacity: 1,
          blockSize: 1,
          resumeFrom: 0,
          create: true,
          window: 1,
        }),
      ),
      /not a message/,
    ],
    ['a ping carrying a payload', rawFrame('{"type":"ping"}', Buffer.from('x')), /ping frame carries/],
    ['a block without its payload', withPayloadLength(good.subarray(0, 8 + headerLength), headerLength, 0), /block frame carries 0/],
  ];
  for (const [what, bytes, says] of cases) {
    assert.throws(
      () => new FrameDecoder().push(bytes),
      (error: unknown) => error instanceof MoverProtocolError && says.test(error.message),
      what,
    );
  }
});

test('a length field claiming the maximum allocates nothing until the bytes arrive', () => {
  const header = Buffer.from(JSON.stringify({ type: 'block', task: 't', index: 0, codec: 0, rawLength: 1, sha256: '0'.repeat(64) }));
  const start = Buffer.alloc(8 + header.length);
  start.writeUInt32BE(header.length, 0);
  header.copy(start, 4);
  start.writeUInt32BE(MAX_PAYLOAD_BYTES, 4 + header.length);
  const before = process.memoryUsage().arrayBuffers;
  const decoders = Array.from({ length: 200 }, () => new FrameDecoder());
  for (const decoder of decoders) assert.deepEqual(decoder.push(Buffer.from(start)), []);
  // 200 claims of 8 MiB would be 1.6 GiB; what is held is the bytes that came.
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
});
