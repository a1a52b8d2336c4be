// `files search` patterns on a real catalog (SQLite, FTS5 trigrams): a plain pattern is part of
// a name, `*` and `?` make it the whole name; `%`, `_`, `[` and `!` are literal; the trigram
// index answers where the pattern has a literal run of three characters.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../../electron/catalog/catalog.ts';
import { nameQuery, registerNameMatching } from '../../electron/catalog/file-index.ts';
import { catalogBackends, type CatalogBackend } from '../helpers/catalog-backends.ts';
import { tempDir } from '../helpers/env.ts';

const NAMES = [
  'nginx.conf',
  'resolv.conf',
  'conf.d',
  'nginx.conf.bak',
  'hostname',
  'HOSTNAME',
  'hostxame',
  'host_name',
  'hostsname',
  '100%.txt',
  '100x.txt',
  'a[1].txt',
  'a1.txt',
  'bang!.txt',
  'ab',
  'abc',
  'Änderung.txt',
  '😀😀.png',
];

async function catalogWith(names: string[], path?: string, backend?: CatalogBackend): Promise<Catalog> {
  const catalog = backend ? await backend.open() : Catalog.open(path ?? join(await tempDir(), 'catalog.sqlite'));
  catalog.ensureRepository({ id: 'repo', name: 'repo', path: '/nowhere', blockSize: 1 << 20 });
  catalog.recordPoint(
    {
      format: 'lifeboat-point',
      version: 1,
      id: 'point-1',
      vmId: 'vm-1',
      vmName: 'web',
      sequence: 1,
      kind: 'full',
      parentId: null,
      createdAt: new Date().toISOString(),
      blockSize: 1 << 20,
      vmConfig: { fileName: 'web.vmx', text: '' },
      disks: [],
      dataFile: { name: 'data.lbd', size: 0 },
      stats: { scannedBytes: 0, changedBytes: 0, storedBytes: 0, dedupedBlocks: 0 },
    },
    'repo',
    null,
    null,
  );
  catalog.files.indexPoint(
    'vm-1',
    'point-1',
    names.map((name, i) => ({ path: `/disk0/part1/etc/${name}`, name, type: 'file', size: i, mtime: null, mode: 0o644 })),
  );
  return catalog;
}

for (const backend of catalogBackends())
  test(
    `search patterns: parts of names, wildcards for whole names, literal % _ [ ! (${backend.name})`,
    { skip: backend.skip },
    async () => {
      const catalog = await catalogWith(NAMES, undefined, backend);
      try {
        const found = (pattern: string): string[] =>
          catalog.files
            .search(pattern, null)
            .map((hit) => hit.path.split('/').at(-1) as string)
            .sort();
        assert.deepEqual(found('*.conf'), ['nginx.conf', 'resolv.conf']);
        assert.deepEqual(found('conf'), ['conf.d', 'nginx.conf', 'nginx.conf.bak', 'resolv.conf'], 'no wildcard: part of the name');
        assert.deepEqual(found('host?ame'), ['HOSTNAME', 'hostname', 'hostxame'], 'one character, any case');
        assert.deepEqual(found('host*name'), ['HOSTNAME', 'host_name', 'hostname', 'hostsname']);
        assert.deepEqual(found('100%*'), ['100%.txt'], '% is literal');
        assert.deepEqual(found('%'), ['100%.txt']);
        assert.deepEqual(found('host_'), ['host_name'], '_ is literal');
        assert.deepEqual(found('a[1]*'), ['a[1].txt'], '[ is literal');
        assert.deepEqual(found('[1]'), ['a[1].txt']);
        assert.deepEqual(found('*!*'), ['bang!.txt'], 'the escape character itself is literal');
        assert.deepEqual(found('a?'), ['ab'], 'short patterns scan names');
        assert.deepEqual(found('??'), ['ab']);
        assert.deepEqual(found('*'), [...NAMES].sort());
        assert.deepEqual(found('**.conf'), ['nginx.conf', 'resolv.conf']);
        assert.deepEqual(found('*.nothing'), []);
        assert.deepEqual(found('*änderung*'), ['Änderung.txt'], 'case folded beyond ASCII, as the plain pattern is');
        assert.deepEqual(found('änderung'), ['Änderung.txt']);
        assert.deepEqual(found('*😀😀*'), ['😀😀.png'], 'two characters (four UTF-16 units) scan the names');
        assert.deepEqual(found('😀😀'), ['😀😀.png']);
        assert.deepEqual(
          catalog.files.search('*.conf', 'vm-1').map((hit) => hit.versions.map((version) => version.sequence)),
          [[1], [1]],
        );
        assert.deepEqual(catalog.files.search('*.conf', 'vm-2'), []);
      } finally {
        catalog.close();
      }
    },
  );

test('a wildcard pattern with a literal run of three characters is answered by the trigram index', async () => {
  const path = join(await tempDir(), 'catalog.sqlite');
  const catalog = await catalogWith(NAMES, path);
  const db = new Database(path, { readonly: true });
  registerNameMatching(db);
  try {
    const plan = (pattern: string): string => {
      const { sql, terms } = nameQuery(pattern, false);
      const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...terms, 100) as { detail: string }[];
      return rows.map((row) => row.detail).join('; ');
    };
    assert.match(plan('*.conf'), /VIRTUAL TABLE INDEX/);
    assert.match(plan('host?ame'), /VIRTUAL TABLE INDEX/);
    assert.doesNotMatch(plan('a?'), /VIRTUAL TABLE/);
    assert.doesNotMatch(plan('*😀😀*'), /VIRTUAL TABLE/);
  } finally {
    db.close();
    catalog.close();
  }
});
