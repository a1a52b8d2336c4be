// The import graph stays free of cycles: no file reaches itself through its imports, and no two
// folders import each other (docs/architecture.md says who may import whom; ESLint checks the
// layers, this test the cycles a layer rule cannot name).
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cycles, mutualFolders, readImportGraph } from '../../scripts/import-graph.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('no file imports itself through others', () => {
  const graph = readImportGraph(root);
  assert.ok(graph.files.length > 100, 'the graph reads the project');
  assert.deepEqual(cycles(graph), []);
});

test('no two folders import each other', () => {
  assert.deepEqual(mutualFolders(readImportGraph(root)), []);
});

test('the cycle finder finds a cycle and the folders in one', () => {
  const edges = new Map([
    ['electron/a/x.ts', new Set(['electron/b/y.ts'])],
    ['electron/b/y.ts', new Set(['electron/a/x.ts'])],
    ['electron/c/z.ts', new Set(['electron/a/x.ts'])],
  ]);
  const graph = { files: [...edges.keys()], edges, lines: new Map() };
  assert.deepEqual(cycles(graph), [['electron/a/x.ts', 'electron/b/y.ts']]);
  assert.deepEqual(mutualFolders(graph), [['electron/a', 'electron/b']]);
});
