// Every job kind has a readable name of its own in the console.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobKind } from '../../shared/domain.ts';
import { kindName } from '../../renderer/views/common/kind-names.ts';

test('kindName: every JobKind has a readable name, and no two kinds share one', () => {
  const names = JobKind.options.map((kind) => kindName(kind));
  for (const [index, name] of names.entries()) {
    const kind = JobKind.options[index];
    assert.equal(typeof name, 'string', `a name for ${kind}`);
    assert.match(name, /^[A-Z][A-Za-z ]+$/, `${kind} reads as words, not as its identifier`);
    assert.notEqual(name, kind);
  }
  assert.equal(new Set(names).size, names.length, 'no two kinds read alike');
});
