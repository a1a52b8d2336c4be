// The folder cache the readers look paths up in: it answers exactly as findNamed (the guest's own
// name first, then the escaped name an item restore writes), and holds a bounded number of
// folders and names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { findNamed } from '../../electron/filesystems/file-system.ts';
import { FolderCache, NamedEntries } from '../../electron/filesystems/folder-cache.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';

const guestName = fc.oneof(
  fc.constantFrom('a', 'A', 'a/b', 'a%2Fb', '..', '.', '', 'x\n', 'x%0A', 'Readme', 'README', '%', '%25'),
  fc.string({ maxLength: 6 }),
);

test('a lookup answers as findNamed does, caseless or not', () => {
  fc.assert(
    fc.property(fc.array(guestName, { maxLength: 12 }), fc.array(guestName, { maxLength: 6 }), fc.boolean(), (names, extra, caseless) => {
      const entries = names.map((name, id) => ({ name, id }));
      const named = new NamedEntries(entries, caseless);
      const queries = [...names, ...names.map((name) => escapeGuestName(name).name), ...extra];
      for (const query of queries) assert.equal(named.find(query), findNamed(entries, query, caseless), JSON.stringify(query));
    }),
    { numRuns: 500 },
  );
});

test('the cache holds a bounded number of folders and names, the newest kept whatever its size', async () => {
  const cache = new FolderCache<number, { name: string }>(false, 3, 10);
  let loads = 0;
  const folder = (size: number) => async () => {
    loads++;
    return Array.from({ length: size }, (_, i) => ({ name: `n${i}` }));
  };
  await cache.get(1, folder(2));
  await cache.get(2, folder(2));
  await cache.get(1, folder(2));
  assert.equal(loads, 2, 'a held folder is not read again');
  await cache.get(3, folder(2));
  await cache.get(4, folder(2)); // four folders: the least recently used (2) goes
  await cache.get(1, folder(2));
  assert.equal(loads, 4);
  await cache.get(2, folder(2));
  assert.equal(loads, 5, 'folder 2 was dropped');
  const huge = await cache.get(5, folder(50)); // more names than the bound: only it stays
  assert.equal(huge.find('n49')?.name, 'n49');
  await cache.get(5, folder(50));
  assert.equal(loads, 6);
  await cache.get(1, folder(2));
  assert.equal(loads, 7);
});
