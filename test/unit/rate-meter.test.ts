// A mover's throughput: bytes of the last five seconds per second, older samples dropped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RateMeter } from '../../electron/movers/rate-meter.ts';

test('rate meter: bytes of the last 5 s per second; nothing or negative adds nothing', () => {
  let now = 1_000_000;
  const meter = new RateMeter(() => now);
  assert.equal(meter.perSecond(), 0);
  meter.add(10_000_000);
  now += 1_000;
  meter.add(5_000_000);
  meter.add(0);
  meter.add(-7);
  assert.equal(meter.perSecond(), 3_000_000);
  now += 4_500;
  assert.equal(meter.perSecond(), 1_000_000, 'the first sample is older than 5 s');
  now += 1_000;
  assert.equal(meter.perSecond(), 0);
});
