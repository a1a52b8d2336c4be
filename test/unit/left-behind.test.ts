// The sentence a job left by a dead engine of a shared catalog ends with: tape and Instant
// Recovery say what they do instead of being taken over.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobKind } from '../../shared/domain.ts';
import { notTakenOver } from '../../electron/jobs/left-behind.ts';

test('every job kind says why it was not taken over and what the operator can do', () => {
  for (const kind of JobKind.options) {
    const sentence = notTakenOver(kind);
    assert.match(sentence, /not taken over/, kind);
    if (kind.startsWith('tape-'))
      assert.match(sentence, /drives that engine held were let go .* run again from any engine that reaches the same library$/, kind);
    else if (kind.startsWith('instant-'))
      assert.match(sentence, /when that engine starts again it serves its running sessions again/, kind);
    else assert.match(sentence, /run it again from any engine$/, kind);
  }
});
