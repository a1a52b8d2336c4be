// Is the CLI bundle current? scripts/build.ts writes dist/cli/inputs.json beside it: when the
// build started, and the project's sources it was built from (the dependencies' come with
// package-lock.json, which is listed too). Checked at every start: some 300 stat calls, a few ms.
'use strict';
const { readFileSync, statSync } = require('node:fs');
const { join } = require('node:path');

/** dist/cli/main.mjs if no listed source changed since the bundle was built; null when it is
 * stale, missing or unreadable (the CLI then runs from its TypeScript source). */
function freshBundle(root) {
  try {
    const stamp = JSON.parse(readFileSync(join(root, 'dist', 'cli', 'inputs.json'), 'utf8'));
    if (stamp.inputs.some((input) => statSync(join(root, input)).mtimeMs > stamp.builtAt)) return null;
    return join(root, 'dist', 'cli', 'main.mjs');
  } catch {
    return null;
  }
}

module.exports = { freshBundle };
