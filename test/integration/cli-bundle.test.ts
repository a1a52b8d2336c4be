// The CLI bundle (dist/cli/, scripts/build.ts): it answers --help and runs real commands (a lab
// backed up by the block workers, then listed), bin/lifeboat.js runs it when it is current, and
// what a command loads is checked through a module loader hook: --help and a command that a
// running engine serves load no part of the engine, from the bundle and from the source.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { buildCli } from '../../scripts/build.ts';
import { tempDir } from '../helpers/env.ts';
import { runRecordingModules as run } from '../helpers/loaded-modules.ts';

const root = join(import.meta.dirname, '..', '..');
const bundle = join(root, 'dist', 'cli', 'main.mjs');
const source = join(root, 'electron', 'cli', 'main.ts');
const bin = join(root, 'bin', 'lifeboat.js');
const { freshBundle } = createRequire(import.meta.url)('../../bin/fresh-bundle.js') as { freshBundle(root: string): string | null };
// `npm test` has just built it; a single run of this file builds it when the sources changed.
if (freshBundle(root) === null) await buildCli();

/** Files of the engine: its chunk in the bundle, its folders in the source. */
const engineFiles = (loaded: string[]): string[] =>
  loaded.filter(
    (file) => /^dist\/cli\/open-served-engine-.*\.mjs$/.test(file) || /^electron\/(engine|catalog|repository|restore|backup)\//.test(file),
  );

test('the bundle answers --help, and makes a lab (backed up by its block workers) that vms then lists', async () => {
  const home = join(await tempDir(), 'home');
  const help = await run(bundle, ['--help']);
  assert.match(help.stdout, /^usage: lifeboat /);
  const lab = await run(bundle, ['--home', home, '--json', 'lab', 'create', '--vms', '1', '--points', '1', '--disk-mib', '16']);
  const [made] = JSON.parse(lab.stdout) as { name: string }[];
  assert.ok(made);
  assert.ok(engineFiles(lab.loaded).length > 0, 'with no engine serving the home, the command loads the engine');
  assert.ok(!lab.loaded.some((file) => file.startsWith('electron/')), `the bundle loads no source: ${lab.loaded.join(' ')}`);
  const vms = JSON.parse((await run(bundle, ['--home', home, '--json', 'vms'])).stdout) as { name: string; pointCount: number }[];
  assert.deepEqual(
    vms.map((vm) => [vm.name, vm.pointCount]),
    [[made.name, 1]],
  );
});

test('bin/lifeboat.js runs the current bundle', async () => {
  const { stdout, loaded } = await run(bin, ['--help']);
  assert.match(stdout, /^usage: lifeboat /);
  assert.ok(loaded.includes('dist/cli/main.mjs'), loaded.join(' '));
  assert.ok(!loaded.some((file) => file.endsWith('.ts')), `no TypeScript source: ${loaded.join(' ')}`);
});

test('--help loads no part of the engine, nor the commands, from the bundle and from the source', async () => {
  const fromBundle = await run(bundle, ['--help']);
  assert.deepEqual(engineFiles(fromBundle.loaded), []);
  assert.ok(!fromBundle.loaded.some((file) => /run-command/.test(file)), fromBundle.loaded.join(' '));
  const fromSource = await run(source, ['--help']);
  assert.deepEqual(
    fromSource.loaded.filter((file) => !/^electron\/cli\/(main|options|usage)\.ts$|^electron\/errors\.ts$|^shared\/generated\//.test(file)),
    [],
  );
});

test('a command that a running engine serves loads the client side alone', async () => {
  const home = join(await tempDir(), 'home');
  const engine = await openServedEngine({ home, workerThreads: 1 });
  try {
    for (const entry of [bundle, source]) {
      const jobs = await run(entry, ['--home', home, '--json', 'jobs']);
      assert.deepEqual(JSON.parse(jobs.stdout), []);
      assert.deepEqual(engineFiles(jobs.loaded), [], `${entry} loaded the engine`);
    }
  } finally {
    await engine.close();
  }
});
