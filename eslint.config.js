// ESLint: typescript-eslint's recommended rules and the layer rule of docs/architecture.md
// (who may import whom). `npm test` runs it before the tests; `npm run lint` alone.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Relative-import patterns that reach a folder of electron/, from anywhere below the project. */
const folder = (...names) =>
  names
    .map((name) => `**/electron/${name}/**`)
    .concat(
      names.map((name) => `../${name}/**`),
      names.map((name) => `../../${name}/**`),
    );

/** The features: each is a restore kind or a service of the engine. */
const features = [
  'backup',
  'restore',
  'items',
  'verify',
  'copies',
  'tape',
  'instant',
  'snapshots',
  'rehearsal',
  'templates',
  'keys',
  'hosts',
  'azure',
  'movers',
];
/** Who serves or drives the engine, and the remote mover program the CLI runs: nothing below them may import them. */
const top = ['engine', 'rpc', 'cli', 'mover'];
/** The lower layers, the job framework and the handler registry. */
const lower = ['drivers', 'repository', 'disks', 'filesystems', 'catalog', 'workers', 'fs', 'nfs', 'secrets', 'x509'];
const everyFolder = [...lower, 'jobs', 'handlers', 'auth', ...features, 'lab', ...top];
/** From a file at electron/'s top (errors.ts, kill-point.ts, home.ts): its own folder's imports. */
const fromTop = (...names) => names.map((name) => `./${name}/**`);

const restrict = (message, ...groups) => ({
  'no-restricted-imports': [
    'error',
    {
      paths: [{ name: 'electron', message: 'only electron/main.ts and electron/preload.ts import Electron' }],
      patterns: groups.map((group) => ({ group, message })),
    },
  ],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/artifacts/**', 'shared/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      globals: {
        console: 'readonly',
        process: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        window: 'readonly',
        document: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-undef': 'off', // TypeScript checks names; ESLint's globals list would only repeat it.
      'no-control-regex': 'off', // control characters are what guest-name escaping and the parsers look for
    },
  },
  // The CLI's launcher stays CommonJS so any Node can tell the operator which Node it needs.
  { files: ['bin/**/*.js'], languageOptions: { sourceType: 'commonjs' }, rules: { '@typescript-eslint/no-require-imports': 'off' } },
  // Electron itself: only the main process entry and the preload.
  {
    files: ['**/*.ts', '**/*.tsx'],
    ignores: ['electron/main.ts', 'electron/preload.ts', 'test/**'],
    rules: restrict('see docs/architecture.md'),
  },
  // The renderer talks to the engine only through the contract.
  { files: ['renderer/**'], rules: restrict('the renderer reaches the engine only through shared/contract.ts', ['**/electron/**']) },
  // shared/ is the contract and the domain: it stands alone.
  {
    files: ['shared/**'],
    rules: restrict('shared/ imports nothing outside shared/', ['**/electron/**', '**/renderer/**', '**/test/**', '../../*']),
  },
  // The lower layers know nothing of the jobs, features and servers above them.
  {
    files: [
      'electron/drivers/**',
      'electron/repository/**',
      'electron/disks/**',
      'electron/filesystems/**',
      'electron/catalog/**',
      'electron/workers/**',
      'electron/fs/**',
      'electron/nfs/**',
      'electron/secrets/**',
      'electron/x509/**',
    ],
    rules: restrict(
      'a lower layer (drivers, repository, disks, file systems, catalog…) does not import the layers above it',
      folder('jobs', 'handlers', ...features, 'lab', ...top, 'auth'),
    ),
  },
  // Certificates and the small CA: DER and node:crypto, on the base alone.
  {
    files: ['electron/x509/**'],
    rules: restrict(
      'x509/ is a lower layer on the base alone (errors.ts, shared/)',
      folder(...everyFolder.filter((name) => name !== 'x509')),
      ['../home.ts'],
    ),
  },
  // The mover runs on a proxy host: the wire protocol, block codecs, contained writes, nothing of the engine.
  {
    files: ['electron/mover/**'],
    rules: restrict(
      'the mover program imports only movers/protocol.ts and join-token.ts, repository/, fs/, x509/, errors.ts, kill-point.ts and shared/',
      folder(...everyFolder.filter((name) => !['mover', 'movers', 'repository', 'fs', 'x509'].includes(name))),
      ['**/movers/*', '!**/movers/protocol.ts', '!**/movers/join-token.ts', '../home.ts'],
    ),
  },
  // The base: errors and the kill-point hook stand on the contract alone.
  {
    files: ['electron/errors.ts', 'electron/kill-point.ts'],
    rules: restrict('errors.ts and kill-point.ts import nothing of electron/ but each other', fromTop(...everyFolder), ['./home.ts']),
  },
  // A home's paths and modes: made with the fs helpers, below everything else.
  {
    files: ['electron/home.ts'],
    rules: restrict('home.ts uses only fs/ and the base', fromTop(...everyFolder.filter((name) => name !== 'fs'))),
  },
  // The handler registry knows only the contract, so every service area can name its handlers.
  { files: ['electron/handlers/**'], rules: restrict('handlers/ imports only shared/', folder(...everyFolder)) },
  // The demo lab is a client of the contract: it builds disks with the real tools and asks the engine.
  {
    files: ['electron/lab/**'],
    rules: restrict('the lab is a contract client: shared/ and errors.ts only', folder(...everyFolder.filter((name) => name !== 'lab')), [
      '../home.ts',
      '../kill-point.ts',
    ]),
  },
  // The job framework runs any work; it knows no feature.
  {
    files: ['electron/jobs/**'],
    rules: restrict('the job framework does not import features or the servers above it', folder(...features, 'lab', ...top, 'auth')),
  },
  // Features and sign-in are composed by the engine; they do not reach up to it or to its servers.
  {
    files: features.map((name) => `electron/${name}/**`).concat('electron/auth/**'),
    rules: restrict(
      'a feature does not import the engine, rpc, the CLI or the lab: it gets what it needs through its Deps',
      folder(...top, 'lab'),
    ),
  },
  // Movers (engine side) are a feature that other features use (restore/ imports movers/, never the
  // reverse). After the features' rule: for a file, the last matching block's rule is the one applied.
  {
    files: ['electron/movers/**'],
    rules: restrict(
      'movers/ is a feature below the others: no other feature, no engine, rpc, CLI, lab or mover program',
      folder(...features.filter((name) => name !== 'movers'), ...top, 'lab'),
    ),
  },
  // The engine is served by rpc/ and driven by the CLI, never the other way round.
  {
    files: ['electron/engine/**'],
    rules: restrict('the engine does not import its servers (rpc/, cli/) or the mover program', folder('rpc', 'cli', 'mover')),
  },
  { files: ['electron/rpc/**'], rules: restrict('rpc/ does not import the CLI or the mover program', folder('cli', 'mover')) },
  // The packaging test matches YAML lines as written, indentation included.
  { files: ['test/**'], rules: { 'no-regex-spaces': 'off' } },
  // Benchmarks and scripts may use the product, never the tests.
  { files: ['bench/**', 'scripts/**'], rules: restrict('bench/ and scripts/ do not import test/', ['**/test/**']) },
);
