// Builds what a browser or Electron loads: the renderer bundle, and the Electron main process,
// preload and block worker. The engine itself runs from source on Node 24 (type stripping).
import { build, type BuildOptions } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist');

export async function buildAll(): Promise<void> {
  await rm(out, { recursive: true, force: true });
  await mkdir(join(out, 'renderer'), { recursive: true });
  await build({
    entryPoints: [join(root, 'renderer', 'main.tsx')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    jsx: 'automatic',
    minify: true,
    sourcemap: true,
    outfile: join(out, 'renderer', 'app.js'),
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  await copyFile(join(root, 'renderer', 'index.html'), join(out, 'renderer', 'index.html'));
  await copyFile(join(root, 'renderer', 'app.css'), join(out, 'renderer', 'app.css'));
  const node: BuildOptions = {
    bundle: true,
    platform: 'node',
    target: 'node22',
    external: ['electron', 'better-sqlite3'],
    logLevel: 'warning',
    sourcemap: true,
  };
  // CommonJS dependencies (ws) call require() for Node built-ins; give the ESM bundles one.
  const esm: BuildOptions = {
    ...node,
    format: 'esm',
    banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  };
  await build({ ...esm, entryPoints: [join(root, 'electron', 'main.ts')], outfile: join(out, 'electron', 'main.mjs') });
  await build({
    ...esm,
    entryPoints: [join(root, 'electron', 'workers', 'block-worker.ts')],
    outfile: join(out, 'electron', 'block-worker.mjs'),
  });
  // Sandboxed preloads must be CommonJS and may require only 'electron'.
  await build({
    ...node,
    entryPoints: [join(root, 'electron', 'preload.ts')],
    format: 'cjs',
    outfile: join(out, 'electron', 'preload.cjs'),
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildAll();
  console.log(`built ${out}`);
}
