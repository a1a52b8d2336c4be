// The zod-free names the preload and the clients use are generated from shared/contract.ts; a
// channel, event or error code added there without `npm run contract` fails here.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { generatedChannelsPath, generatedChannelsSource, subscriberName } from '../../scripts/generate-contract.ts';

test('shared/generated/channels.ts is what scripts/generate-contract.ts makes from the contract now (run `npm run contract`)', async () => {
  assert.equal(await readFile(generatedChannelsPath, 'utf8'), generatedChannelsSource());
});

test('an event subscriber is on + the event name in camel case', () => {
  assert.equal(subscriberName('job.updated'), 'onJobUpdated');
  assert.equal(subscriberName('instant.updated'), 'onInstantUpdated');
});

test('the generated names import nothing at run time, so the sandboxed preload stays free of zod', async () => {
  const runtimeImports = (await readFile(generatedChannelsPath, 'utf8'))
    .split('\n')
    .filter((line) => line.startsWith('import ') && !line.startsWith('import type '));
  assert.deepEqual(runtimeImports, []);
});
