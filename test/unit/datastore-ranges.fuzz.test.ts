// The answers to a datastore's ranged GETs are outside bytes: real answers (ranges of a real
// file, as Go's file server and ESXi shape them) damaged at random, and random headers, must give
// a buffer of exactly the length asked for, or one LifeboatError, never anything else.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseContentRange, rangeBody } from '../../electron/drivers/vsphere/http-range.ts';
import { LifeboatError } from '../../electron/errors.ts';

const file = await readFile(new URL('../../package-lock.json', import.meta.url));
const label = '[LocalDS_0] web01/web01-flat.vmdk';

type Answer = { status: number; headers: Record<string, string>; body: Buffer };

/** What a file server answers to `Range: bytes=offset-(offset+length-1)`. */
function realAnswer(offset: number, length: number): Answer {
  return {
    status: 206,
    headers: { 'content-range': `bytes ${offset}-${offset + length - 1}/${file.length}`, 'content-type': 'application/octet-stream' },
    body: file.subarray(offset, offset + length),
  };
}

const asked = fc
  .tuple(fc.nat({ max: file.length - 1 }), fc.integer({ min: 1, max: 200_000 }))
  .map(([offset, wanted]) => ({ offset, length: Math.min(wanted, file.length - offset), label }));

/** One exact buffer or one LifeboatError naming the file and the offset. */
function judged(answer: Answer, question: { offset: number; length: number; label: string }): Buffer | LifeboatError {
  try {
    const body = rangeBody(answer, question);
    assert.equal(body.length, question.length);
    return body;
  } catch (error) {
    assert.ok(error instanceof LifeboatError, `unexpected ${String(error)}`);
    assert.ok(error.message.includes(label) && error.message.includes(`offset ${question.offset}`), error.message);
    return error;
  }
}

test('an undamaged answer gives exactly the bytes asked for', () => {
  fc.assert(
    fc.property(asked, (question) => {
      const body = judged(realAnswer(question.offset, question.length), question);
      assert.ok(body instanceof Buffer && body.equals(file.subarray(question.offset, question.offset + question.length)));
    }),
    { numRuns: 300 },
  );
});

test('a damaged answer is refused unless it still is exactly the range asked for', () => {
  const damage = fc.record({
    status: fc.option(fc.constantFrom(200, 204, 206, 301, 302, 401, 403, 404, 416, 500, 503)),
    cut: fc.option(fc.nat({ max: 250_000 })),
    extra: fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 })),
    headerEdit: fc.option(fc.tuple(fc.nat({ max: 60 }), fc.nat({ max: 4 }), fc.string({ maxLength: 8 }))),
    dropHeader: fc.boolean(),
  });
  fc.assert(
    fc.property(asked, damage, (question, change) => {
      const answer = realAnswer(question.offset, question.length);
      const headers = { ...answer.headers };
      if (change.headerEdit) {
        const [at, remove, insert] = change.headerEdit;
        const text = headers['content-range'] as string;
        headers['content-range'] = text.slice(0, at) + insert + text.slice(at + remove);
      }
      if (change.dropHeader) delete headers['content-range'];
      let body = change.cut === null ? answer.body : answer.body.subarray(0, change.cut);
      if (change.extra) body = Buffer.concat([body, change.extra]);
      const damaged = { status: change.status ?? 206, headers, body };
      const result = judged(damaged, question);
      if (result instanceof Buffer) {
        // Accepted: then it is the bytes sent, exactly as many as asked, for the range the header
        // names (200 only for the whole file from 0). A cut made good by as many extra bytes is
        // wrong bytes of the right length, which HTTP cannot tell: each block's SHA-256 does.
        assert.ok(result.equals(damaged.body));
        assert.equal(result.length, question.length);
        if (change.cut === null && change.extra === null)
          assert.ok(result.equals(file.subarray(question.offset, question.offset + question.length)));
        const range = parseContentRange(headers['content-range']);
        if (damaged.status === 206) assert.deepEqual([range?.start, range?.end], [question.offset, question.offset + question.length - 1]);
        else assert.equal(question.offset, 0);
      }
    }),
    { numRuns: 1000 },
  );
});

test('Content-Range: what parses is a consistent range, everything else is null', () => {
  assert.deepEqual(parseContentRange('bytes 0-99/1000'), { start: 0, end: 99, total: 1000 });
  assert.deepEqual(parseContentRange('bytes 5-5/*'), { start: 5, end: 5, total: null });
  for (const bad of [
    undefined,
    '',
    'bytes 9-1/10',
    'bytes 0-10/10',
    'bytes=0-1/2',
    'bytes */10',
    'bytes 0-99999999999999999/*',
    'items 0-1/2',
  ])
    assert.equal(parseContentRange(bad), null, String(bad));
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 60 }),
        fc
          .tuple(
            fc.nat(),
            fc.nat(),
            fc.oneof(fc.nat().map(String), fc.constant('*')),
            fc.constantFrom('bytes ', 'bytes', ' bytes ', 'BYTES '),
          )
          .map(([a, b, total, unit]) => `${unit}${a}-${b}/${total}`),
      ),
      (header) => {
        const range = parseContentRange(header);
        if (range === null) return;
        assert.ok(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start <= range.end);
        if (range.total !== null) assert.ok(range.end < range.total);
      },
    ),
    { numRuns: 1000 },
  );
});

test('the answer to a whole-file range may be a 200; to any other range it may not', () => {
  const whole = { offset: 0, length: file.length, label };
  assert.ok((judged({ status: 200, headers: {}, body: file }, whole) as Buffer).equals(file));
  const part = { offset: 1, length: file.length - 1, label };
  assert.match((judged({ status: 200, headers: {}, body: file }, part) as LifeboatError).message, /ignored the range/);
  assert.equal((judged({ status: 404, headers: {}, body: Buffer.alloc(0) }, part) as LifeboatError).code, 'not-found');
  assert.equal((judged({ status: 403, headers: {}, body: Buffer.alloc(0) }, part) as LifeboatError).code, 'unauthorized');
});
