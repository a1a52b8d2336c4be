#!/usr/bin/env node
// The `lifeboat` command. It runs the CLI bundle (dist/cli/, built by `npm install` and
// `npm run build`) when the bundle is newer than every source it was built from, else the
// TypeScript source (Node 24 strips its types, which takes most of a second at each start).
// On Node 24 it runs the CLI in this process. It starts a child instead, and stands for it
// (stop signals passed on; its end is ours: its exit status, or 128 + the signal's number):
// on an older Node (the child is the Node 24 that `npm install` put in node_modules); for
// `serve`, whose engine a service manager sees as the one process under this one; and for the
// crash tests' kill points (LIFEBOAT_KILL_AT), which signal this wrapper or kill the engine under it.
'use strict';
const { mkdirSync } = require('node:fs');
const { constants, homedir } = require('node:os');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { freshBundle } = require('./fresh-bundle.js');

const root = join(__dirname, '..');
const argv = process.argv.slice(2);

/** V8 keeps the code it compiled for the CLI in the OS user's own cache folder, so a start after
 * the first does not parse the bundle again (Node 22.1+; it checks each entry against the source,
 * and NODE_DISABLE_COMPILE_CACHE=1 turns it off). A folder it cannot make costs only the speed. */
function cacheCompiledCode() {
  const { enableCompileCache } = require('node:module');
  if (!enableCompileCache) return;
  const folder = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'lifeboat', 'compile-cache');
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    enableCompileCache(folder);
  } catch {
    // No cache: the CLI runs the same, a little slower to start.
  }
}

/** The command has ended (its engine closed, its jobs drained): what would keep the process up is
 * V8's idle work (garbage collection tasks), some tens of ms. Exits once stdout and stderr have
 * taken what was written (where they are asynchronous, a pipe on macOS). */
function exitOnceWritten() {
  process.stdout.write('', () => process.stderr.write('', () => process.exit()));
}

function runInChild(node, entry) {
  const { spawn } = require('node:child_process');
  const child = spawn(node, [entry, ...argv], { stdio: 'inherit' });
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
}

const entry = freshBundle(root) ?? join(root, 'electron', 'cli', 'main.ts');
const onNode24 = Number(process.versions.node.split('.')[0]) >= 24;
if (onNode24 && !argv.includes('serve') && !process.env.LIFEBOAT_KILL_AT) {
  cacheCompiledCode();
  import(pathToFileURL(entry).href)
    .then(
      (cli) => cli.runFromCommandLine(argv),
      (error) => {
        console.error(`lifeboat: cannot load ${entry} (${error.message}); run \`npm install\` first`);
        process.exitCode = 3;
      },
    )
    .then(exitOnceWritten);
} else {
  runInChild(onNode24 ? process.execPath : join(root, 'node_modules', 'node', 'bin', 'node'), entry);
}
