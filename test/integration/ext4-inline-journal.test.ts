// ext4 as the kernel leaves it: inline data (files, folders and symlinks inside the inode), and
// volumes copied while mounted (needs_recovery), read as of their journal. Every view is compared
// with what the Linux kernel shows through a loop mount (after replaying the journal itself, on a
// throw-away copy), and the backed-up image is never written.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, open, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readAll } from '../../electron/filesystems/file-system.ts';
import {
  changedBlocks,
  debugfs,
  debugfsRequest,
  kernelReplayedTree,
  makeExt4,
  openExt,
  run,
  treeOfFileSystem,
  treeOfFolder,
  withMount,
} from '../helpers/ext4-images.ts';
import { tempDir } from '../helpers/env.ts';

const digest = async (path: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
const bytesOf = (size: number, seed: number): Buffer => Buffer.from(Array.from({ length: size }, (_, index) => (index * 31 + seed) & 0xff));

/** Files, folders and symlinks of the sizes inline data holds (and just past them), made by the kernel. */
async function fillInline(folder: string): Promise<void> {
  await mkdir(join(folder, 'inline/empty-folder'), { recursive: true });
  await mkdir(join(folder, 'inline/many'), { recursive: true });
  for (const size of [0, 1, 59, 60, 61, 100, 150, 4000]) await writeFile(join(folder, `inline/size-${size}.bin`), bytesOf(size, size));
  // Enough names that the folder spills from i_block into the system.data attribute.
  for (let index = 0; index < 6; index++) await writeFile(join(folder, `inline/many/n${index}`), `${index}\n`);
  await symlink('size-1.bin', join(folder, 'inline/short-link'));
  await symlink(`/${'deep/'.repeat(20)}target`, join(folder, 'inline/long-link'));
}

for (const features of [
  ['-O', 'inline_data', '-I', '256'],
  ['-O', 'inline_data,^metadata_csum', '-I', '512', '-b', '1024'],
]) {
  test(`inline data (mke2fs ${features.join(' ')}) lists and reads as the kernel and debugfs show it`, async () => {
    const dir = await tempDir();
    const image = join(dir, 'inline.img');
    await makeExt4(image, 16, ...features);
    await withMount(image, 'rw', fillInline);
    // debugfs writes small files and long symlinks inline too (the kernel keeps long symlinks in blocks).
    await writeFile(join(dir, 'tiny.txt'), 'made by debugfs\n');
    debugfs(
      image,
      ['write ' + join(dir, 'tiny.txt') + ' inline/debugfs-tiny.txt', `symlink inline/debugfs-long-link /${'x'.repeat(80)}/target`],
      true,
    );

    const stat = (path: string): string => debugfsRequest(image, `stat ${path}`);
    const inlineFlag = (path: string): boolean =>
      (Number.parseInt(/Flags: 0x([0-9a-f]+)/.exec(stat(path))?.[1] ?? '0', 16) & 0x10000000) !== 0;
    for (const path of [
      'inline/many',
      'inline/empty-folder',
      'inline/size-1.bin',
      'inline/size-100.bin',
      'inline/debugfs-tiny.txt',
      'inline/debugfs-long-link',
    ])
      assert.ok(inlineFlag(path), `${path} is inline, so the test tests inline data`);
    assert.match(stat('inline/many'), /system\.data \([1-9]/, 'the folder continues in its system.data attribute');

    const fs = await openExt(image);
    const ours = await treeOfFileSystem(fs);
    const kernel = await withMount(image, 'ro', (folder) => treeOfFolder(folder));
    assert.deepEqual(ours, kernel);
    assert.ok(ours.length >= 18);
    // And against debugfs, entry by entry for the inline folder, and byte by byte for inline files.
    const debugfsNames = debugfs(image, ['ls -p inline'])
      .split('\n')
      .filter((line) => line.startsWith('/'))
      .map((line) => line.split('/')[5])
      .filter((name) => name !== '.' && name !== '..')
      .sort();
    assert.deepEqual((await fs.list('/inline')).map((entry) => entry.name).sort(), debugfsNames);
    for (const name of ['size-1.bin', 'size-59.bin', 'size-60.bin', 'size-100.bin', 'debugfs-tiny.txt']) {
      // debugfs 1.47's cat prints the whole inline area (60 bytes for a 59-byte file): its stat's Size is the file's.
      const size = Number(/Size: (\d+)\n/.exec(stat(`inline/${name}`))?.[1]);
      const expected = execFileSync('debugfs', ['-R', `cat inline/${name}`, image], { stdio: ['ignore', 'pipe', 'ignore'] }).subarray(
        0,
        size,
      );
      assert.ok((await readAll(fs, `/inline/${name}`, 1 << 20)).equals(expected), name);
    }
    assert.equal((await fs.stat('/inline/debugfs-long-link')).target, `/${'x'.repeat(80)}/target`);
  });
}

// Journal formats: ext4's (64-bit tags, v3 checksums), ext3's (32-bit tags, no checksums, a journal
// mapped by indirect blocks), and ext4 without 64bit or metadata_csum (plain 32-bit tags).
for (const [kind, options] of [
  ['ext4', ['-t', 'ext4', '-I', '256']],
  ['ext3', ['-t', 'ext3']],
  ['ext4 ^64bit ^metadata_csum', ['-t', 'ext4', '-O', '^64bit,^metadata_csum', '-b', '2048']],
] as const) {
  test(`${kind}: a volume copied while mounted (needs_recovery) is read as of its journal, as the kernel replays it`, async () => {
    const dir = await tempDir();
    const image = join(dir, 'live.img');
    await makeExt4(image, 32, ...options);
    await withMount(image, 'rw', async (folder) => {
      await mkdir(join(folder, 'old'));
      for (let index = 0; index < 5; index++) await writeFile(join(folder, `old/file-${index}`), bytesOf(3000, index));
    });
    // The crash-consistent copy a VM backup takes: mounted, the changes committed to the journal
    // (fsync) but not yet written in place, copied now. The in-place metadata is written back only
    // after 30 s by default, the journal commit is immediate.
    const copy = join(dir, 'crash-copy.img');
    await withMount(image, 'rw', async (folder) => {
      await mkdir(join(folder, 'new/deeper'), { recursive: true });
      await writeFile(join(folder, 'new/deeper/report.txt'), 'written just before the copy\n');
      await writeFile(join(folder, 'old/file-1'), 'rewritten\n');
      execFileSync('rm', [join(folder, 'old/file-2')]);
      execFileSync('mv', [join(folder, 'old/file-3'), join(folder, 'new/moved')]);
      execFileSync('sync', [join(folder, 'new/deeper/report.txt'), join(folder, 'old/file-1'), join(folder, 'new'), join(folder, 'old')]);
      await copyFile(image, copy);
    });
    assert.match(run('dumpe2fs', '-h', copy), /needs_recovery/, 'the copy was taken with its journal holding changes');
    const before = await digest(copy);

    const fs = await openExt(copy);
    assert.equal(fs.notes.length, 1);
    assert.match(fs.notes[0]?.text ?? '', /journal was replayed in memory \([1-9]\d* transaction/);
    assert.equal(fs.notes[0]?.stale, false);
    assert.deepEqual(await treeOfFileSystem(fs), await kernelReplayedTree(copy));
    assert.equal(await digest(copy), before, 'the backed-up image is never written');
  });
}

test('journal transactions written by debugfs: revoked and uncommitted blocks are not replayed', async () => {
  const dir = await tempDir();
  const image = join(dir, 'journaled.img');
  await makeExt4(image, 16, '-b', '1024', '-I', '256');
  await writeFile(join(dir, 'keep.txt'), 'an old file the revoked junk must not overwrite\n');
  debugfs(image, [`write ${join(dir, 'keep.txt')} keep.txt`], true);
  const keepBlock = Number(debugfsRequest(image, 'bmap keep.txt 0').trim());
  // The change to replay: what debugfs makes in a copy, block for block.
  const changed = join(dir, 'changed.img');
  await copyFile(image, changed);
  await writeFile(join(dir, 'new.txt'), 'only in the journal\n');
  debugfs(changed, [`write ${join(dir, 'new.txt')} new.txt`, 'mkdir folder', `write ${join(dir, 'new.txt')} folder/again.txt`], true);
  const blocks = await changedBlocks(image, changed, 1024);
  assert.ok(blocks.length > 0 && !blocks.includes(keepBlock));
  const changedBytes = Buffer.concat(
    await Promise.all(blocks.map(async (block) => (await readFile(changed)).subarray(block * 1024, (block + 1) * 1024))),
  );
  await writeFile(join(dir, 'change.bin'), changedBytes);
  await writeFile(join(dir, 'junk.bin'), Buffer.alloc(1024, 0x5a));
  // 1: junk over keep.txt's block; 2: that block revoked; 3: the real change; 4: junk over the
  // root folder's inode table block, never committed.
  const inodeTableBlock = blocks[0] as number;
  debugfs(
    image,
    [
      'jo -c',
      `jw -b ${keepBlock} ${join(dir, 'junk.bin')}`,
      'jc',
      'jo',
      `jw -r ${keepBlock}`,
      'jc',
      'jo',
      `jw -b ${blocks.join(',')} ${join(dir, 'change.bin')}`,
      'jc',
      'jo',
      `jw -b ${inodeTableBlock} -c ${join(dir, 'junk.bin')}`,
      'jc',
    ],
    true,
  );
  assert.match(run('dumpe2fs', '-h', image), /needs_recovery/);
  const logdump = debugfsRequest(image, 'logdump');
  assert.match(logdump, /type 5 \(revoke table\)/);
  assert.match(logdump, /sequence 4, type 1 \(descriptor block\)[^]*end of journal/, 'the last transaction has no commit block');
  assert.doesNotMatch(logdump, /sequence 4, type 2/);
  const before = await digest(image);

  const fs = await openExt(image);
  assert.match(fs.notes[0]?.text ?? '', /replayed in memory \(3 transaction/);
  const ours = await treeOfFileSystem(fs);
  assert.deepEqual(ours, await treeOfFileSystem(await openExt(changed)), 'the view is the changed file system');
  assert.deepEqual(ours, await kernelReplayedTree(image), 'and what the kernel replays');
  // And what e2fsck replays on a copy (exit 1: it corrected the free counts the journal did not carry).
  const checked = join(dir, 'e2fsck-replayed.img');
  await copyFile(image, checked);
  try {
    execFileSync('e2fsck', ['-fy', checked], { stdio: 'ignore' });
  } catch (error) {
    assert.ok([1, 2].includes((error as { status: number }).status), 'e2fsck corrected, not failed');
  }
  assert.doesNotMatch(run('dumpe2fs', '-h', checked), /needs_recovery/);
  assert.deepEqual(await treeOfFileSystem(await openExt(checked)), ours, 'and what e2fsck replays');
  assert.equal((await readAll(fs, '/keep.txt', 4096)).toString(), 'an old file the revoked junk must not overwrite\n');
  assert.equal(await digest(image), before);
});

test('a journal that cannot be replayed leaves a view that says it may be stale', async () => {
  const dir = await tempDir();
  const image = join(dir, 'live.img');
  await makeExt4(image, 32, '-I', '256');
  const copy = join(dir, 'crash-copy.img');
  await withMount(image, 'rw', async (folder) => {
    await writeFile(join(folder, 'fresh.txt'), 'fresh\n');
    execFileSync('sync', [join(folder, 'fresh.txt'), folder]);
    await copyFile(image, copy);
  });
  // The journal's superblock (journal block 0, found with debugfs bmap) zeroed.
  const journalStart = Number(debugfsRequest(copy, 'bmap <8> 0').trim());
  const blockSize = Number(/Block size:\s+(\d+)/.exec(run('dumpe2fs', '-h', copy))?.[1]);
  const damaged = join(dir, 'damaged-journal.img');
  await copyFile(copy, damaged);
  execFileSync('dd', ['if=/dev/zero', `of=${damaged}`, `bs=${blockSize}`, `seek=${journalStart}`, 'count=1', 'conv=notrunc'], {
    stdio: 'ignore',
  });
  const stale = await openExt(damaged);
  assert.deepEqual(
    stale.notes.map((note) => note.stale),
    [true],
  );
  assert.match(
    stale.notes[0]?.text ?? '',
    /^may be stale: the volume was not cleanly unmounted and its journal was not replayed \(the journal cannot be replayed: no journal superblock\)/,
  );
  assert.ok(Array.isArray(await stale.list('/')), 'the volume is still read, as found');

  // A commit block whose checksum fails: replayed up to that transaction, said to be maybe stale.
  const logdump = debugfsRequest(copy, 'logdump');
  const commitAt = Number(/type 2 \(commit block\) at block (\d+)/.exec(logdump)?.[1]);
  const commitPhysical = Number(debugfsRequest(copy, `bmap <8> ${commitAt}`).trim());
  const badCommit = join(dir, 'bad-commit.img');
  await copyFile(copy, badCommit);
  execFileSync(
    'dd',
    ['if=/dev/urandom', `of=${badCommit}`, `bs=1`, `seek=${commitPhysical * blockSize + 100}`, 'count=8', 'conv=notrunc'],
    { stdio: 'ignore' },
  );
  const partial = await openExt(badCommit);
  assert.ok(
    partial.notes.some((note) => note.stale && /fails its commit checksum/.test(note.text)),
    JSON.stringify(partial.notes),
  );
});

test('an external journal is not replayed; the view says it may be stale', async (context) => {
  const dir = await tempDir();
  const journal = join(dir, 'journal.img');
  const image = join(dir, 'external.img');
  await makeExt4(journal, 8, '-O', 'journal_dev', '-b', '4096');
  const device = run('losetup', '-f', '--show', journal).trim();
  try {
    await makeExt4(image, 32, '-b', '4096', '-J', `device=${device}`);
    const copy = join(dir, 'crash-copy.img');
    await withMount(image, 'rw', async (folder) => {
      await writeFile(join(folder, 'fresh.txt'), 'fresh\n');
      execFileSync('sync', [join(folder, 'fresh.txt'), folder]);
      await copyFile(image, copy);
    });
    const dumped = run('dumpe2fs', '-h', copy);
    if (!/needs_recovery/.test(dumped)) return context.skip('the kernel checkpointed before the copy');
    const fs = await openExt(copy);
    assert.deepEqual(fs.notes, [
      {
        stale: true,
        text: 'may be stale: the volume was not cleanly unmounted and its journal was not replayed (its journal is on another device)',
      },
    ]);
  } finally {
    execFileSync('losetup', ['-d', device]);
  }
});

test('a damaged folder block or extent block (metadata_csum) is refused as the kernel refuses it; its neighbours read', async () => {
  const dir = await tempDir();
  const image = join(dir, 'damaged.img');
  await makeExt4(image, 16, '-b', '1024', '-I', '256');
  await withMount(image, 'rw', async (folder) => {
    await mkdir(join(folder, 'd1'));
    await mkdir(join(folder, 'd2'));
    for (let index = 0; index < 5; index++) await writeFile(join(folder, `d1/f${index}`), `${index}\n`);
    await writeFile(join(folder, 'd2/ok.txt'), 'still fine\n');
    // Every other block written: more extents than the inode holds, so a tree one level deep.
    const handle = await open(join(folder, 'd2/fragmented'), 'w');
    for (let block = 0; block < 24; block += 2) await handle.write(Buffer.from(`block ${block}`), 0, undefined, block * 1024);
    await handle.close();
  });
  const blockSize = 1024;
  const folderBlock = Number(debugfsRequest(image, 'blocks d1').trim().split(/\s+/)[0]);
  const extentBlock = Number(/\(ETB0\):\s*(\d+)/.exec(debugfsRequest(image, 'stat d2/fragmented'))?.[1]);
  assert.ok(extentBlock > 0, 'the file has an extent tree block');
  const corrupt = (block: number, at: number): void => {
    execFileSync('dd', [`of=${image}`, 'bs=1', `seek=${block * blockSize + at}`, 'conv=notrunc'], {
      input: Buffer.from('damaged!'),
      stdio: ['pipe', 'ignore', 'ignore'],
    });
  };
  corrupt(folderBlock, 40);
  corrupt(extentBlock, 24);

  const fs = await openExt(image);
  await assert.rejects(fs.list('/d1'), { code: 'corrupt-disk', message: /directory inode \d+ has a block that fails its checksum/ });
  const listed = await fs.list('/d2');
  assert.match(listed.find((entry) => entry.name === 'fragmented')?.problem ?? '', /extent block that fails its checksum/);
  assert.equal((await readAll(fs, '/d2/ok.txt', 100)).toString(), 'still fine\n');
  await withMount(image, 'ro,noload', async (folder) => {
    await assert.rejects(readdir(join(folder, 'd1')));
    await assert.rejects(readFile(join(folder, 'd2/fragmented')));
    assert.equal(await readFile(join(folder, 'd2/ok.txt'), 'utf8'), 'still fine\n');
  });
});

test('ext2 and ext4 without a journal, copied while mounted (not clean): the view says it may be stale', async () => {
  const dir = await tempDir();
  for (const [kind, options] of [
    ['ext2', ['-t', 'ext2']],
    ['ext4 ^has_journal', ['-t', 'ext4', '-O', '^has_journal']],
  ] as const) {
    const image = join(dir, 'live.img');
    await makeExt4(image, 16, ...options);
    const copy = join(dir, 'crash-copy.img');
    await withMount(image, 'rw', async (folder) => {
      await writeFile(join(folder, 'fresh.txt'), 'fresh\n');
      execFileSync('sync', [join(folder, 'fresh.txt'), folder]);
      await copyFile(image, copy);
    });
    assert.match(run('dumpe2fs', '-h', copy), /Filesystem state:\s+not clean/, kind);
    assert.deepEqual(
      (await openExt(copy)).notes,
      [{ stale: true, text: 'may be stale: the volume was not cleanly unmounted and has no journal to replay' }],
      kind,
    );
    assert.deepEqual((await openExt(image)).notes, [], `${kind} unmounted cleanly says nothing`);
  }
});

test('a journal that has wrapped past its end, holding an indexed (htree) folder, replays as the kernel replays it', async () => {
  const dir = await tempDir();
  const image = join(dir, 'busy.img');
  const copy = join(dir, 'crash-copy.img');
  /** True when the copy's live log runs past the journal's end and on from its start. */
  const wraps = (): boolean => {
    // debugfs -c: the copy's bitmaps are as found (their newest copies are in the journal).
    const logdump = execFileSync('debugfs', ['-c', '-R', 'logdump', copy], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const start = Number(/Journal starts at block (\d+)/.exec(logdump)?.[1]);
    return [...logdump.matchAll(/at block (\d+)/g)].some((match) => Number(match[1]) < start);
  };
  // Where the live log stands when the copy is taken is the kernel's to decide (a busy machine
  // checkpoints at other moments): the image is made again, at most three times, until it wraps.
  let wrapped = false;
  for (let attempt = 0; attempt < 3 && !wrapped; attempt++) {
    await makeExt4(image, 64, '-b', '1024', '-J', 'size=1');
    await withMount(image, 'rw', async (folder) => {
      await mkdir(join(folder, 'many'));
      // One transaction per file (fsync each): ~8 log blocks apiece run a 1024-block journal round.
      for (let index = 0; index < 900; index++) {
        const handle = await open(join(folder, `many/f${index}`), 'w');
        await handle.write(`${index}\n`);
        await handle.sync();
        await handle.close();
      }
      execFileSync('sync', [join(folder, 'many')]);
      await copyFile(image, copy);
    });
    wrapped = wraps();
  }
  assert.ok(wrapped, 'the log wraps past the journal end');
  assert.match(debugfsRequest(image, 'stat many'), /Flags: 0x81000/, 'many is an htree folder');

  const fs = await openExt(copy);
  assert.match(fs.notes[0]?.text ?? '', /replayed in memory/);
  const ours = await treeOfFileSystem(fs);
  assert.equal(ours.length, 901);
  assert.deepEqual(ours, await kernelReplayedTree(copy));
});
