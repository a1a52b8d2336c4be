// The packaging recipe, checked without building (electron-builder downloads what this machine
// cannot reach): better-sqlite3's native module outside the asar, the icon present, the app's
// main the file the build makes, Electron and the dev Node left out.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..', '..');

test('electron-builder.yml packs AppImage, deb and NSIS with better-sqlite3 unpacked and the icon', async () => {
  const text = await readFile(join(root, 'electron-builder.yml'), 'utf8');
  // The recipe is ours and flat; its lines are checked as written.
  assert.match(text, /^asarUnpack:\n  - node_modules\/better-sqlite3\/\*\*$/m, 'the native module is unpacked from the asar');
  assert.match(text, /^npmRebuild: false$/m, 'the Node-API binary is used as it is');
  assert.match(text, /^  target: \[AppImage, deb\]$/m);
  assert.match(text, /^  target: nsis$/m);
  assert.match(text, /^  - "!node_modules\/electron\/\*\*"$/m);
  assert.match(text, /^  - "!node_modules\/node\/\*\*"$/m);
  for (const [, icon] of text.matchAll(/^  icon: (.+)$/gm)) assert.ok((await stat(join(root, icon as string))).size > 1000, `${icon} exists`);
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { main: string };
  assert.equal(pkg.main, 'dist/electron/main.mjs');
  assert.ok((await stat(join(root, pkg.main))).isFile(), 'npm run build made the main file the package starts');
});
