#!/usr/bin/env node
// The `lifeboat` command. The CLI is TypeScript run by Node 24's type stripping; when the Node
// on PATH is older, the Node 24 that `npm install` put in node_modules runs it instead.
// This process only starts that one and stands for it: stop signals are passed on (so a
// service manager's SIGTERM reaches the engine instead of orphaning it), and its end is ours:
// its exit status, or 128 + the signal's number when a signal ended it.
'use strict';
const { spawn } = require('node:child_process');
const { constants } = require('node:os');
const { join } = require('node:path');

const root = join(__dirname, '..');
const major = Number(process.versions.node.split('.')[0]);
const node = major >= 24 ? process.execPath : join(root, 'node_modules', 'node', 'bin', 'node');
const child = spawn(node, [join(root, 'electron', 'cli', 'main.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });

const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const forward = (signal) => {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};
for (const signal of forwarded) process.on(signal, forward);

child.once('error', (error) => {
  console.error(`lifeboat: cannot start Node 24 (${error.message}); run \`npm install\` first`);
  process.exit(3);
});
child.once('exit', (code, signal) => {
  for (const name of forwarded) process.off(name, forward);
  process.exit(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1));
});
