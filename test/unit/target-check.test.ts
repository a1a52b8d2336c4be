// The target check (fs/target-check.ts) against this machine's real mounts, and the name rules
// that keep a guest's names and a listing's lines honest: guest names escaped into one path
// component and back, listing names printed without control characters. Parsers of outside text
// (mountinfo) are fuzzed with damaged real input.
import assert from 'node:assert/strict';
import { readdir, readFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkTargetPath, isWithin, parseMountInfo } from '../../electron/fs/target-check.ts';
import { makeFolders } from '../../electron/fs/make-folders.ts';
import { escapeGuestName, unescapeGuestName } from '../../shared/guest-names.ts';
import { printableName } from '../../shared/format.ts';
import { smallTmpfs, tempDir } from '../helpers/env.ts';

const refused = (pattern: RegExp) => ({ code: 'bad-request', message: pattern });

test('pseudo file systems are refused by their type, whatever is mounted under them', async () => {
  const dir = await tempDir();
  const rules = { home: join(dir, 'home'), repositories: [] };
  for (const path of [
    '/proc/lifeboat-x',
    '/proc/self/fd',
    '/sys/kernel/x',
    '/sys/fs/cgroup/memory/x',
    '/dev/shm/x',
    '/dev/null',
    '/dev/pts/x',
    '/proc',
  ]) {
    await assert.rejects(checkTargetPath(path, 'the restore target', rules), refused(/pseudo file system/), path);
  }
  // Reached through a link, or relative from a folder under /proc: the real place counts.
  await symlink('/proc/self', join(dir, 'to-proc'));
  await assert.rejects(checkTargetPath(join(dir, 'to-proc', 'x'), 'the restore target', rules), refused(/on proc/));
  // A real disk, and a tmpfs (tests and many /tmp are tmpfs), are fine.
  assert.equal(await checkTargetPath(join(dir, 'new', 'deeper'), 'the restore target', rules), join(dir, 'new', 'deeper'));
  const tmpfs = await smallTmpfs('1m');
  if (tmpfs.path) assert.equal(await checkTargetPath(join(tmpfs.path, 'x'), 'the restore target', rules), join(tmpfs.path, 'x'));
});

test('relative targets come back absolute and shown; NUL, a file on the way, the home and repositories are refused', async () => {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const repository = join(dir, 'elsewhere', 'copy-repo');
  await mkdir(join(home, 'repositories', 'default'), { recursive: true });
  await mkdir(repository, { recursive: true });
  await writeFile(join(dir, 'a-file'), 'x');
  const rules = { home, repositories: [{ name: 'copy', path: repository }] };
  assert.equal(await checkTargetPath('relative/out', '--out', rules), join(process.cwd(), 'relative', 'out'));
  await assert.rejects(checkTargetPath('x\0y', '--out', rules), refused(/NUL/));
  await assert.rejects(checkTargetPath(join(dir, 'a-file', 'x'), '--out', rules), refused(/is not a folder/));
  await assert.rejects(checkTargetPath(join(home, 'repositories', 'default', 'vms'), '--out', rules), refused(/inside the engine's home/));
  await assert.rejects(checkTargetPath(home, '--out', rules), refused(/inside the engine's home/));
  await assert.rejects(checkTargetPath(join(repository, 'x'), '--out', rules), refused(/inside repository copy/));
  await symlink(repository, join(dir, 'link-to-repo'));
  await assert.rejects(checkTargetPath(join(dir, 'link-to-repo', 'x'), '--out', rules), refused(/inside repository copy/));
  assert.equal(await checkTargetPath(dir, '--out', rules), dir, 'a parent of the home is a fair target');
});

test("mountinfo: this machine's parses; damaged copies of it parse or are skipped line by line, never throw", async () => {
  const real = await readFile('/proc/self/mountinfo', 'utf8');
  const mounts = parseMountInfo(real);
  assert.ok(mounts.some((mount) => mount.mountPoint === '/proc' && mount.fsType === 'proc'));
  assert.deepEqual(parseMountInfo('36 35 98:0 /mnt1 /mnt\\040with\\040space rw,noatime master:1 - ext3 /dev/root rw\n'), [
    { mountPoint: '/mnt with space', fsType: 'ext3' },
  ]);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(real.length - 1), fc.integer({ min: 0, max: 127 })), { maxLength: 20 }),
      fc.string({ maxLength: 40 }),
      (edits, extra) => {
        const chars = [...real];
        for (const [at, code] of edits) chars[at] = String.fromCharCode(code);
        for (const mount of parseMountInfo(chars.join('') + extra)) assert.ok(mount.mountPoint.startsWith('/') && mount.fsType.length > 0);
      },
    ),
    { numRuns: 300 },
  );
});

test('a guest name becomes one plain path component, visibly, and reads back', () => {
  assert.deepEqual(escapeGuestName('notes.txt'), { name: 'notes.txt', escaped: false });
  assert.deepEqual(escapeGuestName('100% sure'), { name: '100% sure', escaped: false });
  assert.equal(escapeGuestName('..').name, '%2E%2E');
  assert.equal(escapeGuestName('.').name, '%2E');
  assert.equal(escapeGuestName('../../etc/passwd').name, '..%2F..%2Fetc%2Fpasswd');
  assert.equal(escapeGuestName('a\nb\x1b').name, 'a%0Ab%1B');
  assert.equal(escapeGuestName('%41').name, '%2541');
  fc.assert(
    fc.property(
      fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }), fc.constantFrom('.', '..', '/', '%2F', '%', '')),
      (name) => {
        const { name: safe } = escapeGuestName(name);
        assert.ok(safe !== '' && safe !== '.' && safe !== '..' && !/[\x00-\x1f\x7f\u0080-\u009f/]/u.test(safe), JSON.stringify(safe));
        assert.ok(Buffer.byteLength(safe) <= 255);
        if (name !== '') assert.equal(unescapeGuestName(safe), name);
      },
    ),
    { numRuns: 1000 },
  );
  const long = escapeGuestName('\n'.repeat(200));
  assert.ok(Buffer.byteLength(long.name) <= 255 && long.escaped);
});

test('a listing line shows control characters and bidi overrides escaped, so a name cannot forge a line', () => {
  assert.equal(printableName('plain name.txt'), 'plain name.txt');
  assert.equal(printableName('x\nfile  1 KiB  fake'), 'x\\x0afile  1 KiB  fake');
  assert.equal(printableName('\x1b[31mred\x7f\u0085\u202egnp.exe\\'), '\\x1b[31mred\\x7f\\x85\\u202egnp.exe\\\\');
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (name) => {
      assert.ok(!/[\x00-\x1f\x7f\u0080-\u009f\u202a-\u202e\u2066-\u2069]/u.test(printableName(name)));
    }),
    { numRuns: 1000 },
  );
});

test('folders are made one at a time: parallel makers share parents, a failure takes back what it made', async () => {
  const dir = await tempDir();
  const made = await Promise.all(['a', 'b', 'c'].map((leaf) => makeFolders(join(dir, 'shared', 'parent', leaf))));
  assert.deepEqual((await readdir(join(dir, 'shared', 'parent'))).sort(), ['a', 'b', 'c']);
  assert.equal(made.flat().filter((path) => path === join(dir, 'shared')).length, 1, 'each folder is made by one of them');
  await writeFile(join(dir, 'file'), 'x');
  await assert.rejects(makeFolders(join(dir, 'file', 'x', 'y')), { code: 'bad-request', message: /not a folder/ });
  await assert.rejects(makeFolders(join(dir, 'new-parent', 'x'.repeat(300))), { code: 'bad-request', message: /cannot be made/ });
  assert.ok(!(await readdir(dir)).includes('new-parent'), 'the parent it made is taken back');
  assert.deepEqual(await makeFolders(dir), [], 'an existing folder needs nothing');
});

test('inside means inside: "..name" is a name, ".." and a sibling are outside', () => {
  assert.ok(isWithin('/out/..%2Fetc', '/out'));
  assert.ok(isWithin('/out/..hidden/x', '/out'));
  assert.ok(isWithin('/out', '/out'));
  assert.ok(!isWithin('/out/../etc', '/out'));
  assert.ok(!isWithin('/outside', '/out'));
  assert.ok(!isWithin('/', '/out'));
});
