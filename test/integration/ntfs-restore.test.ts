// A backed-up Windows data volume (NTFS with 4 KiB sectors and records, in an MBR partition),
// browsed and restored item by item through the engine: every name of a hard-linked file, the
// streams as `name:stream` files, the sparse file's bytes, links as symlinks; a file whose content
// lives elsewhere (a WOF reparse point) is refused, and the job's error says what it is; inside a
// picked folder such a file is left out and named, and the rest is restored.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Peer, osCaller } from '../../electron/auth/peer.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import { makeVmFolder, openEngine, runJob, tempDir, writeNtfsMbrDisk } from '../helpers/env.ts';
import { makeWindowsImage, noise, ntfs3gUnavailable } from '../helpers/ntfs-images.ts';

const skip = ntfs3gUnavailable() ?? false;

test(
  'a Windows volume restores every name, stream and link; restoring a system-compressed file fails naming what it is',
  { skip },
  async () => {
    const dir = await tempDir();
    const image = await makeWindowsImage(dir, 'WINDATA', { sectorBytes: 4096, clusterBytes: 4096, manyNames: 0 });
    const raw = join(dir, 'disk.raw');
    await writeNtfsMbrDisk(raw, image, (await stat(image)).size);
    const source = join(dir, 'source');
    await mkdir(source);
    await makeVmFolder(source, 'winsrv', raw, 'monolithicSparse');
    const engine = await openEngine(join(dir, 'home'));
    assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
    const list = async (path: string): Promise<{ name: string; type: string; fileId?: string; links?: number }[]> =>
      (await dispatch(engine, new Peer(osCaller()), 'files.list', { vm: 'winsrv', point: 'latest', path })) as {
        name: string;
        type: string;
      }[];
    const docs = await list('/disk0/part1/docs');
    assert.deepEqual(docs.map((entry) => entry.name).sort(), [
      'report-link.txt',
      'report-link.txt:Zone.Identifier',
      'report-link.txt:big',
      'report-link.txt:sparse',
      'report.txt',
      'report.txt:Zone.Identifier',
      'report.txt:big',
      'report.txt:sparse',
    ]);
    const out = join(dir, 'out');
    const job = await runJob(
      engine,
      await engine.files.startItemRestore(
        {
          vm: 'winsrv',
          point: 'latest',
          paths: ['/disk0/part1/docs', '/disk0/part1/other', '/disk0/part1/links', '/disk0/part1/sparse.bin'],
          target: { kind: 'local', path: out },
          onClash: 'keep-both',
        },
        'test',
      ),
    );
    assert.equal(job.state, 'succeeded', job.error ?? '');
    for (const name of ['docs/report.txt', 'docs/report-link.txt', 'other/again.txt'])
      assert.equal(await readFile(join(out, name), 'utf8'), 'quarterly report\n', name);
    assert.ok((await readFile(join(out, 'docs/report.txt:big'))).equals(noise(300_000, 7)));
    assert.equal(await readFile(join(out, 'docs/report-link.txt:Zone.Identifier'), 'utf8'), '[ZoneTransfer]\r\nZoneId=3\r\n');
    const sparseStream = await readFile(join(out, 'docs/report.txt:sparse'));
    assert.equal(sparseStream.length, 10 * 1024 * 1024);
    assert.equal(sparseStream.toString('latin1', 5 * 1024 * 1024, 5 * 1024 * 1024 + 25), 'middle of a sparse stream');
    const expected = execFileSync('ntfscat', [image, '/sparse.bin'], { maxBuffer: 64 * 1024 * 1024 });
    assert.ok((await readFile(join(out, 'sparse.bin'))).equals(expected));
    assert.equal(await readlink(join(out, 'links/relative')), '../docs/report.txt');
    assert.equal(await readlink(join(out, 'links/junction')), 'C:\\Windows');
    assert.ok((await lstat(join(out, 'links/absolute'))).isSymbolicLink());
    // Inside a picked folder, a file its reader refuses (ntfs-3g compressed it) is named in the log
    // and left out; the rest of the restore goes on.
    const partial = await runJob(
      engine,
      await engine.files.startItemRestore(
        {
          vm: 'winsrv',
          point: 'latest',
          paths: ['/disk0/part1/packed', '/disk0/part1/other'],
          target: { kind: 'local', path: join(dir, 'partial') },
          onClash: 'keep-both',
        },
        'test',
      ),
    );
    assert.equal(partial.state, 'succeeded', partial.error ?? '');
    assert.equal(partial.result?.unreadable, 1);
    assert.equal(await readFile(join(dir, 'partial', 'other/again.txt'), 'utf8'), 'quarterly report\n');
    assert.deepEqual(await readdir(join(dir, 'partial', 'packed')), []);
    const refused = await runJob(
      engine,
      await engine.files.startItemRestore(
        {
          vm: 'winsrv',
          point: 'latest',
          paths: ['/disk0/part1/wof.dll'],
          target: { kind: 'local', path: join(dir, 'wof') },
          onClash: 'keep-both',
        },
        'test',
      ),
    );
    assert.match(refused.error ?? '', /wof\.dll is Windows system-compressed \(WOF\), reparse tag 0x80000017/);
  },
);
