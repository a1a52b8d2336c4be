// A folder's listing from the point's file index (listingFromIndex) is the listing the point
// itself gives (listingOf the same entries), on both backends: property over any entries a file
// system can name (any characters but '/', sizes to 2^53, mtimes to the millisecond before and
// after 1970 or none, modes or none, targets or none, every type). And the index answers nothing
// it cannot answer the same: a point not indexed or indexed in the older form, a folder with a
// gap, a path it does not hold or holds as a file, a path another point indexed under another name.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Catalog } from '../../electron/catalog/catalog.ts';
import type { FsEntry } from '../../electron/filesystems/file-system.ts';
import { indexedFile, notKeptAsListed } from '../../electron/items/index-point.ts';
import { listingFromIndex } from '../../electron/items/indexed-folder.ts';
import { listingOf } from '../../electron/items/listed-entry.ts';
import { catalogTest } from '../helpers/catalog-backends.ts';
import { pointManifest } from '../helpers/point-manifest.ts';

const VOLUME = '/disk0/part1';
const ABOVE = { '/': [{ name: 'disk0', type: 'dir', size: 1 << 30, mtime: null, mode: null }] };

function recordPoint(catalog: Catalog, pointId: string, sequence: number): void {
  catalog.recordPoint(pointManifest(pointId, 'vm-1', sequence), 'repo', null, null);
}

const entry = (name: string, rest: Partial<FsEntry> = {}): FsEntry => ({
  name,
  type: 'file',
  size: 1,
  mtime: new Date(Date.UTC(2024, 5, 1, 12, 0, 0, 250)),
  mode: 0o644,
  ...rest,
});

/** Any name a folder can hold and the index keeps apart: not empty, '.', '..', nor holding '/' or
 * NUL (the index walk declines those: the last test). */
const name = fc
  .oneof(fc.string({ minLength: 1, maxLength: 8, unit: 'grapheme' }), fc.string({ minLength: 1, maxLength: 8, unit: 'binary' }))
  .filter((text) => !text.includes('/') && !text.includes('\u0000') && text !== '.' && text !== '..');
const fsEntry = fc.record({
  type: fc.constantFrom('file', 'dir', 'symlink', 'other') as fc.Arbitrary<FsEntry['type']>,
  size: fc.maxSafeNat(),
  // Whole milliseconds from 1900 to 2400 (file systems keep times before 1970 too).
  mtime: fc.option(fc.integer({ min: -2_208_988_800_000, max: 13_569_465_600_000 }).map((ms) => new Date(ms))),
  mode: fc.option(fc.integer({ min: 0, max: 0o177777 })),
  target: fc.option(
    fc.string({ maxLength: 40, unit: 'binary' }).filter((text) => !text.includes('\u0000')),
    { nil: undefined },
  ),
});

catalogTest('property: a folder from the index is the listing the point gives of it', async (_t, backend) => {
  const catalog = await backend.open();
  try {
    catalog.ensureRepository({ id: 'repo', name: 'repo', path: '/nowhere', blockSize: 1 << 20 });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.tuple(name, fsEntry), { selector: ([text]) => text, maxLength: 25 }), async (drawn) => {
        run += 1;
        const pointId = `point-${run}`;
        recordPoint(catalog, pointId, run);
        const folder = `${VOLUME}/many`;
        const entries = drawn.map(([text, rest]): FsEntry => ({ name: text, ...rest }));
        const files = [indexedFile(VOLUME, entry('many', { type: 'dir' })), ...entries.map((one) => indexedFile(folder, one))];
        catalog.files.indexPoint('vm-1', pointId, files, [], { aboveVolumes: JSON.stringify(ABOVE) });
        assert.deepEqual(listingFromIndex(catalog, 'vm-1', pointId, folder), listingOf(folder, entries));
        assert.deepEqual(listingFromIndex(catalog, 'vm-1', pointId, '/'), ABOVE['/']);
      }),
      { numRuns: backend.name === 'postgresql' ? 25 : 100 },
    );
  } finally {
    catalog.close();
  }
});

catalogTest('the index answers no listing it cannot give as the point would', async (_t, backend) => {
  const catalog = await backend.open();
  try {
    catalog.ensureRepository({ id: 'repo', name: 'repo', path: '/nowhere', blockSize: 1 << 20 });
    for (const [i, point] of ['older', 'listed', 'damaged', 'later'].entries()) recordPoint(catalog, point, i + 1);
    const listed = { aboveVolumes: JSON.stringify(ABOVE) };
    const files = [
      indexedFile(VOLUME, entry('etc', { type: 'dir' })),
      indexedFile(VOLUME, entry('empty', { type: 'dir' })),
      indexedFile(`${VOLUME}/etc`, entry('hosts')),
      indexedFile(`${VOLUME}/etc`, entry('ssh', { type: 'dir' })),
      indexedFile(`${VOLUME}/etc`, entry('mtab', { type: 'symlink', target: '/proc/self/mounts', mode: 0o777 })),
    ];
    const gaps = [{ path: `${VOLUME}/etc/ssh`, kind: 'unreadable' as const, reason: 'its contents could not be read: bad extent' }];
    catalog.files.indexPoint('vm-1', 'older', files, gaps);
    catalog.files.indexPoint('vm-1', 'listed', files, gaps, listed);
    const from = (point: string, path: string) => listingFromIndex(catalog, 'vm-1', point, path)?.map((one) => one.name) ?? null;

    assert.equal(from('older', `${VOLUME}/etc`), null, 'an index made without the listing form');
    assert.equal(from('not-indexed', `${VOLUME}/etc`), null);
    assert.deepEqual(from('listed', `${VOLUME}/etc`), ['hosts', 'mtab', 'ssh']);
    assert.deepEqual(listingFromIndex(catalog, 'vm-1', 'listed', `${VOLUME}/etc`)?.[1], {
      name: 'mtab',
      type: 'symlink',
      size: 1,
      mtime: '2024-06-01T12:00:00.250Z',
      mode: 0o777,
      target: '/proc/self/mounts',
    });
    assert.deepEqual(from('listed', VOLUME), ['empty', 'etc']);
    assert.deepEqual(from('listed', `${VOLUME}/empty`), [], 'a folder the index holds as empty');
    assert.equal(from('listed', `${VOLUME}/etc/ssh`), null, 'a folder the index could not read');
    assert.equal(from('listed', `${VOLUME}/etc/hosts`), null, 'a file: the point says what it is');
    assert.equal(from('listed', `${VOLUME}/nowhere`), null, 'a path the index does not hold');
    assert.equal(from('listed', `${VOLUME}/etc/`), null, 'another spelling of a folder: the point resolves it');
    assert.equal(from('listed', `${VOLUME}/ETC`), null);
    assert.deepEqual(from('listed', '/'), ['disk0'], 'above the volumes: the listing kept for that path');
    assert.equal(from('listed', '/disk0'), null, 'a listing above the volumes the index did not keep');

    const leftOut = { path: `${VOLUME}/etc/broken`, kind: 'unreadable' as const, reason: 'inode 12 fails its checksum' };
    catalog.files.indexPoint('vm-1', 'listed', files, [...gaps, leftOut], listed);
    assert.equal(from('listed', `${VOLUME}/etc`), null, 'a folder with an entry the index left out');
    assert.deepEqual(from('listed', VOLUME), ['empty', 'etc']);
    const stale = { path: VOLUME, kind: 'stale' as const, reason: 'the journal was not replayed' };
    catalog.files.indexPoint('vm-1', 'listed', files, [stale], listed);
    assert.equal(from('listed', `${VOLUME}/empty`), null, 'a volume the index cannot vouch for');

    // A damaged point names a file 'a/b' in etc: the path /…/etc/a/b is etc's. A later point
    // whose etc/a holds b shares that path, filed under etc: its folder a would miss b.
    catalog.files.indexPoint('vm-1', 'damaged', [indexedFile(`${VOLUME}/etc`, entry('a/b'))]);
    catalog.files.indexPoint(
      'vm-1',
      'later',
      [indexedFile(`${VOLUME}/etc`, entry('a', { type: 'dir' })), indexedFile(`${VOLUME}/etc/a`, entry('b'))],
      [],
      listed,
    );
    assert.equal(catalog.files.listings('later'), null, 'the later point answers no listing from its index');
    assert.equal(from('later', `${VOLUME}/etc/a`), null);
  } finally {
    catalog.close();
  }
});

catalogTest(
  'a NUL in a name or a target: the entry is indexed and searchable, and the walk vouches for no listing',
  async (_t, backend) => {
    const catalog = await backend.open();
    try {
      catalog.ensureRepository({ id: 'repo', name: 'repo', path: '/nowhere', blockSize: 1 << 20 });
      recordPoint(catalog, 'nul', 1);
      const entries = [entry('nul\u0000name'), entry('link', { type: 'symlink', target: 'to\u0000where' })];
      assert.match(notKeptAsListed(VOLUME, entries) ?? '', /"nul\\u0000name", whose name or target has a NUL character/);
      assert.equal(notKeptAsListed(VOLUME, entries.slice(1))?.includes('"link"'), true);
      // Indexed without the listing form, as the walk does for such a point.
      const gap = { path: `${VOLUME}/bad\u0000name`, kind: 'unreadable' as const, reason: 'inode 13 fails its checksum' };
      catalog.files.indexPoint(
        'vm-1',
        'nul',
        entries.map((one) => indexedFile(VOLUME, one)),
        [gap],
      );
      // Other text from the guest (a gap's path, a job's log) is kept as given; PostgreSQL keeps U+FFFD.
      assert.deepEqual(
        catalog.files.gaps('vm-1')[0]?.gaps.map((one) => one.path),
        [`${VOLUME}/bad${backend.name === 'postgresql' ? '\uFFFD' : '\u0000'}name`],
      );
      const kept = '\uFFFD'; // on both backends: PostgreSQL's text cannot hold U+0000
      assert.deepEqual(
        catalog.files.search('nul', 'vm-1').map((hit) => hit.path),
        [`${VOLUME}/nul${kept}name`],
      );
      assert.equal(catalog.files.folder('vm-1', 'nul', VOLUME)?.find((one) => one.name === 'link')?.target, `to${kept}where`);
      assert.equal(listingFromIndex(catalog, 'vm-1', 'nul', VOLUME), null);
    } finally {
      catalog.close();
    }
  },
);
