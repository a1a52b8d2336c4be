// A mover's datastore view (electron/mover/datastore-view.ts) given any path an engine could
// send, in a view planted with links out of it, links inside it, a FIFO and a hard-linked file:
// a file is opened inside the view or one LifeboatError says why not, and nothing outside the
// view is ever made or changed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { link, mkdir, readdir, readFile, realpath, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { LifeboatError } from '../../electron/errors.ts';
import { isWithin } from '../../electron/fs/target-check.ts';
import { DatastoreView } from '../../electron/mover/datastore-view.ts';
import { tempDir } from '../helpers/env.ts';

const root = await tempDir('lifeboat-mover-view-');
const viewRoot = join(root, 'view');
const outside = join(root, 'outside');
await mkdir(join(viewRoot, 'vm'), { recursive: true });
await mkdir(outside);
await writeFile(join(outside, 'victim.img'), 'not a disk');
await symlink(outside, join(viewRoot, 'escape'));
await symlink(join(outside, 'victim.img'), join(viewRoot, 'victim-flat.vmdk'));
await symlink(join(viewRoot, 'vm'), join(viewRoot, 'inside'));
await symlink(join(root, 'nowhere'), join(viewRoot, 'dangling'));
await link(join(outside, 'victim.img'), join(viewRoot, 'vm', 'hard-linked.img'));
execFileSync('mkfifo', [join(viewRoot, 'vm', 'pipe.img')]);
const view = new DatastoreView('ds1', await realpath(viewRoot));

const part = fc.oneof(
  fc.constantFrom(
    '..',
    '.',
    '',
    'vm',
    'escape',
    'inside',
    'dangling',
    'victim-flat.vmdk',
    'hard-linked.img',
    'pipe.img',
    'new',
    'disk.img',
  ),
  fc.stringMatching(/^[a-z.\\/\0-]{1,6}$/),
);
const path = fc.array(part, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('/'));
const absolute = path.map((relative) => `/${relative}`);

test('any path gives a file inside the view or one LifeboatError, and nothing outside changes', async () => {
  let opened = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(path, absolute, fc.constantFrom(`${outside}/x.img`, '../outside/x.img')),
      fc.boolean(),
      async (where, create) => {
        let handle;
        try {
          handle = await view.openTarget({ datastore: 'ds1', path: where, create, capacity: 4096 });
        } catch (error) {
          assert.ok(error instanceof LifeboatError, `${where}: ${(error as Error).message}`);
          return;
        }
        try {
          const file = await realpath(`/proc/self/fd/${handle.fd}`);
          assert.ok(isWithin(file, view.root), `${where} opened ${file}`);
          opened += 1;
        } finally {
          await handle.close();
        }
      },
    ),
    { numRuns: 400 },
  );
  assert.ok(opened > 0, 'no path was a file to write: the property proved nothing');
  assert.deepEqual(await readdir(outside), ['victim.img']);
  assert.equal(await readFile(join(outside, 'victim.img'), 'utf8'), 'not a disk');
});
