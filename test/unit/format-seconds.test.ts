// Times left as the CLI's progress line, `lab create` and the console say them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatSeconds } from '../../shared/format.ts';

test('formatSeconds: seconds, then minutes and seconds, then hours and minutes', () => {
  assert.equal(formatSeconds(0), '0 s');
  assert.equal(formatSeconds(44.6), '45 s');
  assert.equal(formatSeconds(59.4), '59 s');
  assert.equal(formatSeconds(59.6), '1 min 0 s');
  assert.equal(formatSeconds(190), '3 min 10 s');
  assert.equal(formatSeconds(7500), '2 h 5 min');
  assert.equal(formatSeconds(-3), '0 s', 'never a negative time left');
});

test('formatSeconds: any time reads back to within the unit it drops', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 10_000_000 }), (seconds) => {
      const match = /^(?:(\d+) h (\d+) min|(\d+) min (\d+) s|(\d+) s)$/.exec(formatSeconds(seconds));
      assert.ok(match, formatSeconds(seconds));
      const [, hours, hourMinutes, minutes, minuteSeconds, plain] = match;
      const back =
        hours !== undefined
          ? Number(hours) * 3600 + Number(hourMinutes) * 60
          : minutes !== undefined
            ? Number(minutes) * 60 + Number(minuteSeconds)
            : Number(plain);
      assert.ok(seconds - back >= 0 && seconds - back < (hours !== undefined ? 60 : 1), `${seconds} → ${formatSeconds(seconds)}`);
    }),
  );
});
