// A folder of the file index (FileIndex.folder): a point's entries directly in one folder, in
// UTF-16 code unit order on both backends (PostgreSQL's collation would sort 'a' before 'B'), with
// hostile names kept as they are; nothing of another point, VM or folder; null for a point that
// is not indexed. Property: for any set of paths, a folder is exactly the paths whose folder it is.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Catalog } from '../../electron/catalog/catalog.ts';
import type { IndexedFile } from '../../electron/catalog/file-index.ts';
import { catalogTest } from '../helpers/catalog-backends.ts';
import { pointManifest } from '../helpers/point-manifest.ts';

function recordPoint(catalog: Catalog, vmId: string, pointId: string, sequence: number): void {
  catalog.recordPoint(pointManifest(pointId, vmId, sequence), 'repo', null, null);
}

const file = (folder: string, name: string, size = 1): IndexedFile => ({
  path: `${folder}/${name}`,
  name,
  type: 'file',
  size,
  mtime: 1_700_000_000,
  mode: 0o644,
});
const names = (entries: { name: string }[] | null): string[] | null => entries?.map((entry) => entry.name) ?? null;
const HOSTILE = ['B', 'a', 'Ä', '_x', 'line\nbreak', '\u202egnp.exe', 'a/b', '😀', '..', ' lead'];

catalogTest('a folder of the index: its own entries, in code unit order, hostile names kept', async (_t, backend) => {
  const catalog = await backend.open();
  try {
    catalog.ensureRepository({ id: 'repo', name: 'repo', path: '/nowhere', blockSize: 1 << 20 });
    recordPoint(catalog, 'vm-1', 'p1', 1);
    recordPoint(catalog, 'vm-1', 'p2', 2);
    recordPoint(catalog, 'vm-2', 'q1', 1);
    const etc = '/disk0/part1/etc';
    catalog.files.indexPoint('vm-1', 'p1', [
      { ...file('/disk0/part1', 'etc'), type: 'dir' },
      ...HOSTILE.map((name, i) => file(etc, name, i)),
      file(`${etc}/ssh`, 'sshd_config'),
      file('/disk0/part1', 'etc.old'),
    ]);
    catalog.files.indexPoint('vm-1', 'p2', [file(etc, 'only-in-p2')]);
    catalog.files.indexPoint('vm-2', 'q1', [file(etc, 'other-vm')]);
    assert.deepEqual(names(catalog.files.folder('vm-1', 'p1', etc)), [...HOSTILE].sort());
    assert.deepEqual(
      catalog.files.folder('vm-1', 'p1', etc)?.find((entry) => entry.name === 'Ä'),
      { name: 'Ä', type: 'file', size: 2, mtime: 1_700_000_000, mtimeMs: null, mode: 0o644, target: null },
    );
    assert.deepEqual(names(catalog.files.folder('vm-1', 'p1', '/disk0/part1')), ['etc', 'etc.old']);
    assert.deepEqual(
      names(catalog.files.folder('vm-1', 'p1', `${etc}/a`)),
      [],
      "a name holding '/' stays in its own folder: nothing is under 'a'",
    );
    assert.deepEqual(names(catalog.files.folder('vm-1', 'p2', etc)), ['only-in-p2']);
    assert.deepEqual(names(catalog.files.folder('vm-2', 'q1', etc)), ['other-vm']);
    assert.equal(catalog.files.folder('vm-1', 'not-indexed', etc), null);
    assert.equal(catalog.files.typeOf('vm-1', 'p1', '/disk0/part1/etc'), 'dir');
    assert.equal(catalog.files.typeOf('vm-1', 'p2', '/disk0/part1/etc'), null, 'p2 indexed no entry for the folder itself');
    // Indexed again: the point's entries are replaced.
    catalog.files.indexPoint('vm-1', 'p1', [file(etc, 'fresh')]);
    assert.deepEqual(names(catalog.files.folder('vm-1', 'p1', etc)), ['fresh']);
  } finally {
    catalog.close();
  }
});

catalogTest('property: a folder of the index is exactly the indexed paths in it', async (_t, backend) => {
  const catalog = await backend.open();
  try {
    catalog.ensureRepository({ id: 'repo', name: 'repo', path: '/nowhere', blockSize: 1 << 20 });
    const part = fc.oneof(
      fc.constantFrom('a', 'b', 'A', 'ä', '😀', 'x y'),
      fc.string({ minLength: 1, maxLength: 4 }).filter((text) => !text.includes('/')),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.array(part, { minLength: 1, maxLength: 3 }), {
          minLength: 1,
          maxLength: 30,
          selector: (parts) => parts.join('/'),
        }),
        async (paths) => {
          run += 1;
          const pointId = `point-${run}`;
          recordPoint(catalog, 'vm-p', pointId, run);
          const files = paths.map((parts) =>
            file(
              `/disk0/part1${parts
                .slice(0, -1)
                .map((segment) => `/${segment}`)
                .join('')}`,
              parts.at(-1) as string,
            ),
          );
          catalog.files.indexPoint('vm-p', pointId, files);
          for (const folder of new Set(files.map((entry) => entry.path.slice(0, entry.path.length - entry.name.length - 1)))) {
            const expected = files
              .filter((entry) => entry.path === `${folder}/${entry.name}`)
              .map((entry) => entry.name)
              .sort();
            assert.deepEqual(names(catalog.files.folder('vm-p', pointId, folder)), expected, folder);
          }
        },
      ),
      { numRuns: backend.name === 'postgresql' ? 25 : 100 },
    );
  } finally {
    catalog.close();
  }
});
