// Builds what a browser or Electron loads: the renderer bundle, and the Electron main process,
// preload and block worker; and the CLI bundle (dist/cli/), which `lifeboat` runs instead of
// its TypeScript source so that it starts at once. `node scripts/build.ts cli` builds the CLI
// alone (npm's postinstall does, so a fresh clone's `lifeboat` is the bundle).
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isErrnoCode } from '../electron/errors.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist');
/** bin/fresh-bundle.js reads the same place and stamp: dist/cli/main.mjs and dist/cli/inputs.json. */
const cliOut = join(out, 'cli');

// CommonJS dependencies (ws) call require() for Node built-ins; give the ESM bundles one.
const requireBanner = {
  js: "import { createRequire as bannerCreateRequire } from 'node:module'; const require = bannerCreateRequire(import.meta.url);",
};

/** zod's namespace of 60-odd message locales (`z.locales`, some 360 KB of the CLI's largest chunk,
 * read at every start) cut to the English one zod uses by default: nothing here picks another. */
const englishZodLocalesOnly: Plugin = {
  name: 'english-zod-locales-only',
  setup(esbuild) {
    esbuild.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${sep}node_modules${sep}zod${sep}`) ? { path: 'zod-locales-en', namespace: 'zod-locales' } : undefined,
    );
    esbuild.onLoad({ filter: /.*/, namespace: 'zod-locales' }, () => ({
      contents: "export { default as en } from 'zod/v4/locales/en.js';",
      resolveDir: root,
    }));
  },
};

/** The CLI and the block worker its engine starts, split so that --help and the commands a
 * running engine serves never load the engine's chunk. Built beside and then moved in whole;
 * inputs.json lists the sources it was built from, for bin/fresh-bundle.js to tell it is stale. */
export async function buildCli(): Promise<void> {
  const staging = `${cliOut}.${process.pid}.tmp`;
  const builtAt = Date.now();
  await rm(staging, { recursive: true, force: true });
  const result = await build({
    entryPoints: {
      main: join(root, 'electron', 'cli', 'main.ts'),
      'block-worker': join(root, 'electron', 'workers', 'block-worker.ts'),
      'postgres-worker': join(root, 'electron', 'catalog', 'postgres', 'postgres-worker.ts'),
    },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    absWorkingDir: root,
    outdir: staging,
    outExtension: { '.js': '.mjs' },
    // Chunks sit beside main.mjs: the engine finds the workers' .mjs and the native addons from its own URL.
    chunkNames: '[name]-[hash]',
    // pg-native: pg's optional libpq binding, which Lifeboat does not use.
    external: ['better-sqlite3', 'electron', 'playwright', 'pg-native', '*.node'],
    banner: requireBanner,
    metafile: true,
    logLevel: 'warning',
    plugins: [englishZodLocalesOnly],
  });
  // The project's own files: not the dependencies', nor a plugin's virtual module (`namespace:path`).
  const inputs = Object.keys(result.metafile.inputs).filter(
    (input) => !input.startsWith('..') && !input.split('/').includes('node_modules') && !/^[\w-]+:/.test(input),
  );
  await writeFile(join(staging, 'inputs.json'), `${JSON.stringify({ builtAt, inputs: [...inputs, 'package-lock.json'] })}\n`);
  // Swapped in by two renames, not rewritten in place: a CLI starting meanwhile finds the old
  // bundle, the new one or none (and then runs from source), never half of one.
  const previous = `${cliOut}.${process.pid}.old`;
  await rename(cliOut, previous).catch((error: unknown) => {
    if (!isErrnoCode(error, 'ENOENT')) throw error;
  });
  await rename(staging, cliOut);
  await rm(previous, { recursive: true, force: true });
}

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
    // The CSS main.tsx and PatternFly's components import becomes app.css beside app.js; the fonts
    // and images it names are copied as files under assets/ (the CSP allows only the page's own origin).
    outfile: join(out, 'renderer', 'app.js'),
    loader: { '.woff2': 'file', '.woff': 'file', '.svg': 'file', '.png': 'file', '.jpg': 'file' },
    assetNames: 'assets/[name]-[hash]',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  await copyFile(join(root, 'renderer', 'index.html'), join(out, 'renderer', 'index.html'));
  await copyFile(join(root, 'assets', 'icon.svg'), join(out, 'renderer', 'favicon.svg'));
  const node: BuildOptions = {
    bundle: true,
    platform: 'node',
    target: 'node22',
    external: ['electron', 'better-sqlite3', 'pg-native'],
    logLevel: 'warning',
    sourcemap: true,
  };
  const esm: BuildOptions = { ...node, format: 'esm', banner: requireBanner };
  await build({ ...esm, entryPoints: [join(root, 'electron', 'main.ts')], outfile: join(out, 'electron', 'main.mjs') });
  await build({
    ...esm,
    entryPoints: [join(root, 'electron', 'workers', 'block-worker.ts')],
    outfile: join(out, 'electron', 'block-worker.mjs'),
  });
  await build({
    ...esm,
    entryPoints: [join(root, 'electron', 'catalog', 'postgres', 'postgres-worker.ts')],
    outfile: join(out, 'electron', 'postgres-worker.mjs'),
  });
  // Sandboxed preloads must be CommonJS and may require only 'electron'.
  await build({
    ...node,
    entryPoints: [join(root, 'electron', 'preload.ts')],
    format: 'cjs',
    outfile: join(out, 'electron', 'preload.cjs'),
  });
  await buildCli();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === 'cli') {
    await buildCli();
    console.log(`built ${cliOut}`);
  } else {
    await buildAll();
    console.log(`built ${out}`);
  }
}
