// `npm test`: type-check, lint (layers, formatting), build the console, then every test (unit, integration on real
// images, end to end in Chromium) with Node's test runner.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAll } from './build.ts';
import { postgresMissing } from './peers/postgresql.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'node_modules', '.bin');

function step(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

step(join(bin, 'tsc'), ['-p', 'tsconfig.json', '--noEmit']);
// The layer rule and the formatting are checked before any test runs (npm run lint).
step(join(bin, 'eslint'), ['.']);
step(join(bin, 'prettier'), ['--check', '.']);
await buildAll();
// Module mocks stand in for Electron in test/unit/electron-main.test.ts and test/unit/preload.test.ts.
step(process.execPath, [
  '--test',
  '--experimental-test-module-mocks',
  '--test-concurrency=2',
  'test/unit/*.test.ts',
  'test/integration/*.test.ts',
  'test/e2e/*.test.ts',
]);

// The catalog's second backend: engine-level tests again, every home's catalog on a PostgreSQL
// database (test/helpers/postgres-homes.ts). These open their homes through openEngine and do not
// read catalog.sqlite themselves; the catalog's own tests run on both backends in the pass above.
const onPostgres = [
  'roundtrip',
  'point-metadata',
  'restore-check',
  'target-full',
  'target-refusal',
  'restore-disks',
  'bad-input',
  'files-download',
  'item-browse',
  'item-gaps',
  'copies',
  'encryption',
  'snapshot-chains',
  'sign-in',
  'console-sign-in',
  'serve-sessions',
  'rehearsal',
  'fault-matrix',
  'tape',
  'load',
  'full-point-pack',
  'real-vmx',
  'vm-config',
  'block-feed',
  'platform-key',
  'item-containment',
];
const missing = postgresMissing();
if (missing !== null) console.log(`# the PostgreSQL pass is skipped: ${missing}`);
else
  step(
    process.execPath,
    ['--test', '--experimental-test-module-mocks', '--test-concurrency=2', ...onPostgres.map((name) => `test/integration/${name}.test.ts`)],
    { ...process.env, LIFEBOAT_TEST_CATALOG: 'postgresql' },
  );
