// `npm test`: type-check, lint (layers, formatting), build the console, then every test (unit, integration on real
// images, end to end in Chromium) with Node's test runner.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAll } from './build.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'node_modules', '.bin');

function step(command: string, args: string[]): void {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
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
