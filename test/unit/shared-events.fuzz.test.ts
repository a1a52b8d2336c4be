// Another engine's NOTIFY payload is outside bytes: damaged real events and arbitrary text parse
// to an event of the three known shapes or to null, never to an exception.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseSharedEvent } from '../../electron/jobs/shared-events.ts';

const real = [
  JSON.stringify({ from: 'e-1', event: 'job.updated', jobId: '7c3e0a2e-1111-4b5b-9c9c-123456789abc' }),
  JSON.stringify({ from: 'e-3', event: 'prompt.updated', promptId: '5d1e0a2e-2222-4b5b-9c9c-123456789abc' }),
  JSON.stringify({
    from: 'e-2',
    event: 'job.progress',
    progress: { jobId: 'j-1', at: 1764806400000, step: 'transfer-disks', bytesDone: 10, bytesTotal: 20, bytesPerSecond: 5, etaSeconds: 2 },
  }),
];

test('the events other engines send parse as sent', () => {
  assert.deepEqual(parseSharedEvent(real[0]), JSON.parse(real[0] as string));
  assert.deepEqual(parseSharedEvent(real[1]), JSON.parse(real[1] as string));
  assert.deepEqual(parseSharedEvent(real[2]), JSON.parse(real[2] as string));
  assert.equal(parseSharedEvent(undefined), null);
  assert.equal(parseSharedEvent(JSON.stringify({ from: 'e-1', event: 'instant.updated', jobId: 'x' })), null, 'an event not relayed');
  assert.equal(parseSharedEvent(JSON.stringify({ from: 'e-1', event: 'job.updated', jobId: 'x', extra: 1 })), null, 'a field too many');
});

test('damaged events parse to a known event or to null', () => {
  fc.assert(
    fc.property(fc.constantFrom(...real), fc.nat(), fc.nat({ max: 8 }), fc.string({ maxLength: 12 }), (text, at, cut, insert) => {
      const where = at % (text.length + 1);
      const damaged = text.slice(0, where) + insert + text.slice(where + cut);
      const event = parseSharedEvent(damaged);
      assert.ok(event === null || ['job.updated', 'job.progress', 'prompt.updated'].includes(event.event));
      if (event?.event === 'job.progress') assert.ok(event.progress.bytesDone >= 0 && event.progress.bytesTotal >= 0);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.string(), (text) => void parseSharedEvent(text)),
    { numRuns: 500 },
  );
});
