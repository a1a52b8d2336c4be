// Downloads of picked items (files.download + GET /download/<ticket>) from a real ext4 + FAT guest,
// through the real `serve` HTTP server: the zip checked by Python's zipfile, the tar by GNU tar,
// folders kept or flattened, hostile guest names kept inside the archive, tickets single-use and
// bound to their console session, a slow client held back, nothing written on the engine's disk.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { request as httpGet } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { osCaller, Peer } from '../../electron/auth/peer.ts';
import { DownloadTickets, type Download } from '../../electron/items/download-tickets.ts';
import { buildGuestDisk, spliceAll } from '../../electron/lab/guest-disk.ts';
import { callContext, dispatch } from '../../electron/rpc/dispatch.ts';
import { clientWaits, contentDisposition } from '../../electron/rpc/download-route.ts';
import { startConsoleServer } from '../../electron/rpc/ws-server.ts';
import type { RequestOf } from '../../shared/contract.ts';
import { makeVmFolder, openEngine, runJob, tempDir, until } from '../helpers/env.ts';
import { patchName } from '../helpers/image-names.ts';

const MIB = 1024 * 1024;
const LONG_NAME = `long-${'n'.repeat(240)}.txt`;

/** What Python's zipfile makes of an archive: testzip's answer, the names, each file's bytes. */
function pythonZip(path: string): { bad: string | null; names: string[]; files: Record<string, string> } {
  const script = [
    'import base64, json, sys, zipfile',
    'z = zipfile.ZipFile(sys.argv[1])',
    'print(json.dumps({"bad": z.testzip(), "names": z.namelist(),',
    '  "files": {i.filename: base64.b64encode(z.read(i)).decode() for i in z.infolist() if not i.is_dir()}}))',
  ].join('\n');
  return JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8', maxBuffer: 256 * MIB })) as ReturnType<
    typeof pythonZip
  >;
}

/** Every file under `folder` (relative names), to see that a download leaves nothing behind. */
async function filesUnder(folder: string): Promise<string[]> {
  return (await readdir(folder, { recursive: true })).map(String).sort();
}

test('picked items download as a zip or a tar, kept or flattened, hostile names inside, tickets once', async (t) => {
  const dir = await tempDir();
  const work = join(dir, 'work');
  await mkdir(work);
  const layout = await buildGuestDisk(work, 'dlvm', 64);
  // Names are patched into directory blocks below; without metadata_csum no checksum must be forged.
  execFileSync('tune2fs', ['-O', '^metadata_csum', layout.ext4.image], { stdio: 'ignore' });
  const small = join(work, 'small.txt');
  await writeFile(small, 'guest bytes\n');
  const big = join(work, 'big.bin');
  await writeFile(big, randomBytes(20 * MIB));
  execFileSync('debugfs', ['-w', '-f', '-', layout.ext4.image], {
    input: [
      'mkdir /evil',
      `write ${small} /evil/PLACEHOLDER_DOTS`,
      `write ${small} /evil/PLACEHOLDER_CTRL`,
      `write ${small} /evil/${LONG_NAME}`,
      'mkdir /big',
      `write ${big} /big/big.bin`,
    ].join('\n'),
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  await patchName(layout.ext4.image, 'PLACEHOLDER_DOTS', '../../tmp/x_dots');
  await patchName(layout.ext4.image, 'PLACEHOLDER_CTRL', '/abs\nnewline_xyz');
  await spliceAll(layout);
  const source = join(dir, 'source');
  await mkdir(source);
  await makeVmFolder(source, 'dlvm', layout.rawPath, 'monolithicSparse');
  const home = join(dir, 'home');
  const engine = await openEngine(home);
  t.after(() => engine.close());
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  const consoleDir = join(dir, 'console');
  await mkdir(consoleDir);
  const server = await startConsoleServer(engine, { host: '127.0.0.1', port: 0, rendererDir: consoleDir });
  t.after(() => server.close());
  const session = engine.sessions.create().id;
  const guest = (path: string): Promise<Buffer> => readFile(join(work, 'files', path));

  const ask = (request: Omit<RequestOf<'files.download'>, 'vm' | 'point'>, from = session) =>
    engine.handlers['files.download']({ vm: 'dlvm', point: 'latest', ...request }, callContext(osCaller(), undefined, from));
  const fetchArchive = async (url: string): Promise<{ status: number; body: Buffer; disposition: string | null }> => {
    const response = await fetch(`${server.url}${url}`);
    return {
      status: response.status,
      body: Buffer.from(await response.arrayBuffer()),
      disposition: response.headers.get('content-disposition'),
    };
  };
  const homeBefore = await filesUnder(home);
  // The machine's /tmp is shared with other programs: the engine's temporary folder is one of its own here.
  const privateTmp = join(dir, 'tmp');
  await mkdir(privateTmp);
  const tmpBefore = process.env.TMPDIR;
  process.env.TMPDIR = privateTmp;
  t.after(() => {
    if (tmpBefore === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpBefore;
  });

  // A zip, folders kept: Python reads it whole, every file's bytes as in the guest.
  const zip = await ask({ paths: ['/disk0/part1/etc', '/disk0/part1/home/operator/blob.bin'], format: 'zip', layout: 'keep' });
  assert.match(zip.url, /^\/download\/[A-Za-z0-9_-]{43}$/);
  assert.equal(zip.name, 'dlvm-point-1-items.zip');
  const zipped = await fetchArchive(zip.url);
  assert.equal(zipped.status, 200);
  assert.equal(zipped.disposition, `attachment; filename="dlvm-point-1-items.zip"; filename*=UTF-8''dlvm-point-1-items.zip`);
  await writeFile(join(dir, 'keep.zip'), zipped.body);
  const read = pythonZip(join(dir, 'keep.zip'));
  assert.equal(read.bad, null);
  assert.deepEqual(read.names.sort(), ['blob.bin', 'etc/', 'etc/hostname', 'etc/motd'].sort());
  for (const [name, path] of [
    ['blob.bin', 'home/operator/blob.bin'],
    ['etc/hostname', 'etc/hostname'],
    ['etc/motd', 'etc/motd'],
  ] as const)
    assert.ok(Buffer.from(read.files[name] ?? '', 'base64').equals(await guest(path)), name);

  // The ticket was used: a second GET, an unknown ticket and a malformed one are all 404.
  assert.equal((await fetchArchive(zip.url)).status, 404);
  assert.equal((await fetchArchive(`/download/${'A'.repeat(43)}`)).status, 404);
  assert.equal((await fetchArchive('/download/../index.html')).status, 404);

  // A tar, folders kept: GNU tar lists and extracts the same files.
  const tar = await fetchArchive((await ask({ paths: ['/disk0/part1/var', '/disk0/part1/etc/motd'], format: 'tar', layout: 'keep' })).url);
  assert.equal(tar.status, 200);
  await writeFile(join(dir, 'keep.tar'), tar.body);
  const listing = execFileSync('tar', ['-tvf', join(dir, 'keep.tar')], { encoding: 'utf8' });
  assert.match(listing, /var\/log\/service\.log/);
  const extracted = join(dir, 'tar-out');
  await mkdir(extracted);
  execFileSync('tar', ['-xf', join(dir, 'keep.tar'), '-C', extracted]);
  assert.ok((await readFile(join(extracted, 'var', 'log', 'service.log'))).equals(await guest('var/log/service.log')));
  assert.ok((await readFile(join(extracted, 'motd'))).equals(await guest('etc/motd')));

  // Flattened: files of one name from two volumes (ext4 and FAT) become "hostname" and "hostname (2)".
  const flat = await fetchArchive(
    (await ask({ paths: ['/disk0/part1/etc', '/disk0/part2/etc/hostname'], format: 'zip', layout: 'flatten' })).url,
  );
  await writeFile(join(dir, 'flat.zip'), flat.body);
  const flatRead = pythonZip(join(dir, 'flat.zip'));
  assert.equal(flatRead.bad, null);
  assert.deepEqual(flatRead.names.sort(), ['hostname', 'hostname (2)', 'motd']);
  assert.equal(Buffer.from(flatRead.files['hostname (2)'] ?? '', 'base64').toString(), 'dlvm\n');

  // Hostile names stay single, safe entry names inside the archive; Python extracts them inside its folder.
  for (const format of ['zip', 'tar'] as const) {
    const hostile = await fetchArchive((await ask({ paths: ['/disk0/part1/evil'], format, layout: 'keep' })).url);
    assert.equal(hostile.status, 200);
    const archive = join(dir, `evil.${format}`);
    await writeFile(archive, hostile.body);
    const names =
      format === 'zip' ? pythonZip(archive).names : execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).trimEnd().split('\n');
    assert.deepEqual(
      names.sort(),
      ['evil/', 'evil/..%2F..%2Ftmp%2Fx_dots', 'evil/%2Fabs%0Anewline_xyz', `evil/${LONG_NAME}`].sort(),
      format,
    );
    const into = join(dir, `evil-${format}`);
    await mkdir(into);
    if (format === 'zip')
      execFileSync('python3', ['-c', 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])', archive, into]);
    else execFileSync('tar', ['-xf', archive, '-C', into]);
    assert.deepEqual(
      (await readdir(join(into, 'evil'))).sort(),
      names
        .filter((name) => name !== 'evil/')
        .map((name) => name.slice(5))
        .sort(),
    );
  }

  // A slow client: the download waits for it (back-pressure) instead of buffering the archive, and the
  // archive is whole once it reads on.
  const slow = await ask({ paths: ['/disk0/part1/big/big.bin'], format: 'tar', layout: 'keep' });
  const waitsBefore = clientWaits.count;
  const received = await new Promise<Buffer>((resolve, reject) => {
    const get = httpGet(`${server.url}${slow.url}`, (response) => {
      const chunks: Buffer[] = [];
      response.once('data', (first: Buffer) => {
        chunks.push(first);
        response.pause();
        until('the download waits for the client', () => (clientWaits.count > waitsBefore ? true : undefined)).then(() => {
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.resume();
        }, reject);
      });
      response.on('end', () => resolve(Buffer.concat(chunks)));
      response.on('error', reject);
    });
    get.on('error', reject);
    get.end();
  });
  await writeFile(join(dir, 'big.tar'), received);
  const bigOut = join(dir, 'big-out');
  await mkdir(bigOut);
  execFileSync('tar', ['-xf', join(dir, 'big.tar'), '-C', bigOut]);
  assert.ok((await readFile(join(bigOut, 'big.bin'))).equals(await readFile(big)));

  // An item that fails mid-way breaks the response: the client sees a cut download, not a shorter archive.
  const broken = engine.files.downloads.issue({
    session,
    name: 'broken.zip',
    contentType: 'application/zip',
    write: async (sink) => {
      await sink.write(Buffer.alloc(64 * 1024));
      throw new Error('a block of the point cannot be read');
    },
  });
  const cut = await fetch(`${server.url}/download/${broken.ticket}`);
  assert.equal(cut.status, 200);
  await assert.rejects(cut.arrayBuffer());

  // Nothing was written under the engine's home or its temporary folder by the downloads.
  assert.deepEqual(await filesUnder(home), homeBefore);
  assert.deepEqual(await readdir(privateTmp), []);

  // A ticket dies with its console session; without a console session (the app, the CLI) there is no download.
  const other = engine.sessions.create().id;
  const orphan = await ask({ paths: ['/disk0/part1/etc/motd'], format: 'zip', layout: 'keep' }, other);
  engine.sessions.revoke(other);
  assert.equal((await fetchArchive(orphan.url)).status, 404);
  await assert.rejects(
    dispatch(engine, new Peer(osCaller()), 'files.download', {
      vm: 'dlvm',
      point: 'latest',
      paths: ['/disk0/part1/etc/motd'],
      format: 'zip',
      layout: 'keep',
    }),
    { code: 'bad-request', message: 'download works in the browser console; use Restore to folder' },
  );
  // The item rules of a restore: a path above any volume is refused before a ticket is made.
  await assert.rejects(ask({ paths: ['/disk0'], format: 'zip', layout: 'keep' }), { code: 'bad-request', message: /inside a volume/ });
});

test('a point that cannot be read fails the download with a status, and the engine says so on its standard error', async (t) => {
  const dir = await tempDir();
  const work = join(dir, 'work');
  await mkdir(work);
  const layout = await buildGuestDisk(work, 'cutvm', 48);
  const source = join(dir, 'source');
  await mkdir(source);
  await makeVmFolder(source, 'cutvm', layout.rawPath, 'monolithicSparse');
  const engine = await openEngine(join(dir, 'home'));
  t.after(() => engine.close());
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  // A flipped bit in every 4 KiB of the stored blocks: whatever the download reads first is damaged.
  const [manifest] = await engine.repository.listPoints(engine.lookup.resolveVm('cutvm').id);
  assert.ok(manifest);
  const data = await open(join(engine.repository.pointFolder(manifest), 'data.lbd'), 'r+');
  const byte = Buffer.alloc(1);
  for (let at = 100; at < (await data.stat()).size; at += 4096) {
    await data.read(byte, 0, 1, at);
    byte[0] = (byte[0] as number) ^ 0x10;
    await data.write(byte, 0, 1, at);
  }
  await data.close();
  const consoleDir = join(dir, 'console');
  await mkdir(consoleDir);
  const server = await startConsoleServer(engine, { host: '127.0.0.1', port: 0, rendererDir: consoleDir });
  t.after(() => server.close());
  const { url } = await engine.handlers['files.download'](
    { vm: 'cutvm', point: 'latest', paths: ['/disk0/part1/etc'], format: 'zip', layout: 'keep' },
    callContext(osCaller(), undefined, engine.sessions.create().id),
  );
  const said: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((text: string | Uint8Array) => said.push(String(text)) > 0) as typeof process.stderr.write;
  try {
    // It fails before its first byte (opening the point): a status says so, no file is offered.
    const failed = await fetch(`${server.url}${url}`);
    assert.equal(failed.status, 500);
    assert.equal(failed.headers.get('content-disposition'), null);
  } finally {
    process.stderr.write = write;
  }
  assert.match(said.join(''), /^lifeboat: download cutvm-point-1-items\.zip broken off: .*corrupt block/m);
});

test('a ticket expires 60 s after it was issued and dies with its session, as do its downloads under way', () => {
  let now = 1_000_000;
  const tickets = new DownloadTickets(() => now);
  const download = (session: string): Download => ({
    session,
    name: 'a.zip',
    contentType: 'application/zip',
    write: async () => undefined,
  });
  const late = tickets.issue(download('a'));
  assert.equal(late.expiresAt.getTime(), now + 60_000);
  now += 60_000;
  assert.equal(tickets.take(late.ticket), null, 'expired');
  const ended = tickets.issue(download('b'));
  tickets.dropSession('b');
  assert.equal(tickets.take(ended.ticket), null, 'its session ended');
  // A download under way ends with its session too; one that is over is not stopped again.
  const stopped: string[] = [];
  const over = tickets.started('c', () => stopped.push('finished one'));
  tickets.started('c', () => stopped.push('running one'));
  tickets.started('d', () => stopped.push("another session's"));
  over();
  tickets.dropSession('c');
  assert.deepEqual(stopped, ['running one']);
  assert.equal(
    contentDisposition('résumé "q".zip'),
    `attachment; filename="r_sum_ _q_.zip"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22q%22.zip`,
  );
});
