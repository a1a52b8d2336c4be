#!/usr/bin/env node
// The `lifeboat` command. The CLI is TypeScript run by Node 24's type stripping; when the Node
// on PATH is older, the Node 24 that `npm install` put in node_modules runs it instead.
'use strict';
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

const root = join(__dirname, '..');
const major = Number(process.versions.node.split('.')[0]);
const node = major >= 24 ? process.execPath : join(root, 'node_modules', 'node', 'bin', 'node');
const result = spawnSync(node, [join(root, 'electron', 'cli', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
if (result.error) {
  console.error(`lifeboat: cannot start Node 24 (${result.error.message}); run \`npm install\` first`);
  process.exit(3);
}
process.exit(result.status ?? 1);
