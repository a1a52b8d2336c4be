// The packaging recipe, checked without building (electron-builder downloads what this machine
// cannot reach): better-sqlite3's native module outside the asar, the icon present, the app's
// main the file the build makes, Electron and the dev Node left out.
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
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
  for (const [, icon] of text.matchAll(/^  icon: (.+)$/gm))
    assert.ok((await stat(join(root, icon as string))).size > 1000, `${icon} exists`);
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { main: string };
  assert.equal(pkg.main, 'dist/electron/main.mjs');
  assert.ok((await stat(join(root, pkg.main))).isFile(), 'npm run build made the main file the package starts');
});

test('electron-builder.yml sets every Electron fuse the checklist asks for, with names its schema knows', async () => {
  // Read with the YAML loader electron-builder itself uses, and held against its own schema.
  const yaml = createRequire(join(root, 'node_modules', 'app-builder-lib', 'package.json'))('js-yaml') as { load(text: string): unknown };
  const recipe = yaml.load(await readFile(join(root, 'electron-builder.yml'), 'utf8')) as { electronFuses?: Record<string, unknown> };
  const schema = JSON.parse(await readFile(join(root, 'node_modules', 'app-builder-lib', 'scheme.json'), 'utf8')) as {
    definitions: { FuseOptionsV1: { properties: Record<string, unknown> } };
    properties: Record<string, { anyOf?: { $ref?: string }[] }>;
  };
  assert.ok(
    schema.properties.electronFuses?.anyOf?.some((option) => option.$ref === '#/definitions/FuseOptionsV1'),
    'electronFuses takes FuseOptionsV1',
  );
  const known = Object.keys(schema.definitions.FuseOptionsV1.properties);
  for (const name of Object.keys(recipe.electronFuses ?? {})) assert.ok(known.includes(name), `${name} is a fuse electron-builder knows`);
  assert.deepEqual(recipe.electronFuses, {
    runAsNode: false,
    enableCookieEncryption: true,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
    loadBrowserProcessSpecificV8Snapshot: false,
    grantFileProtocolExtraPrivileges: false,
  });
});
