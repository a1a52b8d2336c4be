// Issue 19's "Done when": VM disks laid out like the installers of Ubuntu Server (LVM, ext4 root,
// swap LV), RHEL (XFS /boot, LVM across two disks with an XFS root), Fedora (btrfs subvolumes,
// zstd) and Windows Server (ESP, MSR, NTFS with hard links, streams, a sparse file, 512-byte and
// 4 KiB MFT records, recovery) are backed up by the engine, then browsed, searched and restored
// through its files service as the CLI does, and compared with what the kernel shows through a
// read-only loop mount of the same file system bytes (ntfs-3g for NTFS; for FAT, which this kernel
// cannot mount, the folder mtools copied in).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { test } from 'node:test';
import type { Engine } from '../../electron/engine/engine.ts';
import { dispatch } from '../../electron/rpc/dispatch.ts';
import type { FileEntry } from '../../shared/domain.ts';
import { openEngine, runJob, tempDir } from '../helpers/env.ts';
import { treeOfFolder } from '../helpers/ext4-images.ts';
import { asOwner } from '../helpers/owner.ts';
import {
  buildFedora,
  buildRhel,
  buildUbuntuServer,
  buildWindowsServer,
  withImageMounted,
  type ServerFileSystem,
  type ServerVm,
} from '../helpers/server-disks.ts';

const skip = process.getuid?.() === 0 ? false : 'the server disks need root: loop mounts, lvm2 on loop devices, ntfs-3g';

const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

/** What the kernel shows of a file system: its tree (treeOfFolder's lines, plus `file:stream`
 * lines for NTFS streams), and whether the image's hard links and sparse file are what they should be. */
type KernelView = { tree: string[]; meta: string[] | null; linked: boolean | null; sparse: boolean | null };

async function kernelView(fs: ServerFileSystem): Promise<KernelView> {
  if ('staged' in fs.view) return { tree: await treeOfFolder(fs.view.staged), meta: null, linked: null, sparse: null };
  const look = async (folder: string): Promise<KernelView> => {
    const tree = await treeOfFolder(folder);
    for (const stream of fs.streams ?? []) {
      const bytes = await readFile(join(folder, stream));
      tree.push(`/${stream} file ${bytes.length} ${sha(bytes)}`);
    }
    const meta = fs.kind === 'ntfs' ? null : await filesMeta(folder);
    return { tree: tree.sort(), meta, linked: await sameFile(folder, fs.links), sparse: await isSparse(folder, fs.sparse) };
  };
  return 'ntfs3g' in fs.view
    ? withImageMounted(fs.image, 'ntfs', 'ro,streams_interface=windows', look)
    : withImageMounted(fs.image, fs.kind as 'ext4' | 'xfs' | 'btrfs', fs.view.mount, look);
}

async function sameFile(base: string, links: string[] | undefined): Promise<boolean | null> {
  if (!links) return null;
  const names = await Promise.all(links.map((name) => stat(join(base, name))));
  return names.every((info) => info.ino === names[0]?.ino && info.nlink === links.length);
}

async function isSparse(base: string, path: string | undefined): Promise<boolean | null> {
  if (!path) return null;
  const info = await stat(join(base, path));
  return info.blocks * 512 < info.size / 2;
}

/** Every file's mode and modification time (whole seconds), for the Linux file systems, whose
 * restores keep them: `path mode mtime` lines, sorted. */
async function filesMeta(base: string, inner = ''): Promise<string[]> {
  const lines: string[] = [];
  for (const entry of await readdir(join(base, inner), { withFileTypes: true })) {
    const path = `${inner}/${entry.name}`;
    if (path === '/lost+found') continue;
    if (entry.isDirectory()) lines.push(...(await filesMeta(base, path)));
    else if (entry.isFile()) {
      const info = await stat(join(base, path));
      lines.push(`${path} ${(info.mode & 0o7777).toString(8)} ${Math.floor(info.mtimeMs / 1000)}`);
    }
  }
  return lines.sort();
}

/** A file's line without its hash: what a listing alone can say. */
const withoutContent = (tree: string[]): string[] => tree.map((line) => line.replace(/^(.* file \d+) [0-9a-f]{16}$/, '$1')).sort();

/** `files ls` (from the point's index, the backup having indexed it), or with `fromPoint` read
 * from the point's disks. */
const list = (engine: Engine, vm: string, path: string, fromPoint = false): Promise<FileEntry[]> =>
  dispatch(engine, asOwner(), 'files.list', { vm, point: 'latest', path, fromPoint }) as Promise<FileEntry[]>;

/** The volume's whole tree as `files ls --from-point` walks it, in the kernel tree's form (sizes, no hashes). */
async function listedTree(engine: Engine, vm: string, volume: string): Promise<string[]> {
  const lines: string[] = [];
  const queue = [''];
  for (let folder = queue.shift(); folder !== undefined; folder = queue.shift()) {
    for (const entry of await list(engine, vm, `${volume}${folder}`, true)) {
      const path = `${folder}/${entry.name}`;
      if (path === '/lost+found') continue;
      if (entry.type === 'dir') {
        lines.push(`${path} dir`);
        queue.push(path);
      } else if (entry.type === 'symlink') lines.push(`${path} symlink ${entry.target}`);
      else if (entry.type === 'file') lines.push(`${path} file ${entry.size}`);
      else lines.push(`${path} other (${entry.problem ?? entry.target ?? ''})`);
    }
  }
  return lines.sort();
}

/** Each folder of the volume, and the paths above it, as `files ls` answers them from the point's
 * index against the point's own listing (`--from-point`), entry for entry and field for field;
 * and `--from-index`'s entries, with no gaps. `folder: both answers`, for the folders that differ. */
async function indexAgainstListing(engine: Engine, vm: string, volume: string): Promise<string[]> {
  const differ: string[] = [];
  const parts = volume.split('/').slice(1, -1); // /lvm/vg/root: lvm, vg
  const above = ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)];
  const queue = [volume];
  let folders = 0;
  for (const path of above) {
    const [answered, read] = [await list(engine, vm, path), await list(engine, vm, path, true)];
    if (!isDeepStrictEqual(answered, read)) differ.push(`${path}: ${JSON.stringify(answered)}; from the point ${JSON.stringify(read)}`);
  }
  for (let folder = queue.shift(); folder !== undefined; folder = queue.shift()) {
    const read = await list(engine, vm, folder, true);
    const answered = await list(engine, vm, folder);
    const indexed = (await dispatch(engine, asOwner(), 'files.listIndexed', { vm, point: 'latest', path: folder })) as {
      entries: FileEntry[];
      gaps: unknown[];
    };
    folders += 1;
    if (!isDeepStrictEqual(answered, read) || !isDeepStrictEqual(indexed, { entries: read, gaps: [] }))
      differ.push(
        `${folder}: ${JSON.stringify(answered)}; from the point ${JSON.stringify(read)}; --from-index ${JSON.stringify(indexed)}`,
      );
    queue.push(...read.filter((entry) => entry.type === 'dir').map((entry) => `${folder}/${entry.name}`));
  }
  assert.ok(folders > 1, `${volume} has folders to compare`);
  return differ;
}

/** The entry of a volume in its disk's (or VG's) listing. */
async function volumeEntry(engine: Engine, vm: string, path: string): Promise<FileEntry> {
  const entry = (await list(engine, vm, dirname(path))).find((candidate) => candidate.name === posix.basename(path));
  assert.ok(entry, `${path} is listed`);
  return entry;
}

/** Restores every top-level item of the volume in one item restore; the folder it went to. */
async function restoreVolume(engine: Engine, vm: string, volume: string, out: string): Promise<void> {
  const names = (await list(engine, vm, volume)).map((entry) => entry.name).filter((name) => name !== 'lost+found');
  const job = await runJob(
    engine,
    await engine.files.startItemRestore(
      { vm, point: 'latest', paths: names.map((name) => `${volume}/${name}`), target: { kind: 'local', path: out }, onClash: 'keep-both' },
      'test',
    ),
  );
  assert.equal(job.state, 'succeeded', job.error ?? '');
}

type Layout = { title: string; build: (work: string) => Promise<ServerVm> };

const layouts: Layout[] = [
  { title: 'Ubuntu Server: GPT, ESP, /boot ext4, LVM ubuntu-vg with an ext4 root and a swap LV', build: (work) => buildUbuntuServer(work) },
  { title: 'RHEL/Rocky: GPT, ESP, /boot XFS, LVM rhel across two disks with an XFS root and a swap LV', build: (work) => buildRhel(work) },
  { title: 'Fedora: GPT, ESP, /boot ext4, btrfs with subvolumes root and home written with zstd', build: (work) => buildFedora(work) },
  { title: 'Windows Server: GPT, ESP, MSR, NTFS C: (links, streams, sparse), recovery', build: (work) => buildWindowsServer(work) },
  {
    title: 'Windows Server with 4 KiB NTFS sectors and MFT records (mkntfs -s 4096)',
    build: (work) => buildWindowsServer(work, 'win-srv-4k', 4096),
  },
];

for (const layout of layouts) {
  test(layout.title, { skip }, async (t) => {
    const dir = await tempDir('lifeboat-server-');
    const vm = await layout.build(join(dir, 'work'));
    const engine = await openEngine(join(dir, 'home'));
    const backup = await runJob(engine, await engine.backups.start(vm.folder, 'test'));
    assert.equal(backup.state, 'succeeded', backup.error ?? '');
    await engine.jobs.idle(); // the point's index job

    await t.test('the root, each disk, /lvm and each VG list exactly the volumes of the layout', async () => {
      const roots = vm.raws.map((_, index) => `disk${index}`);
      const volumes = [...vm.fileSystems, ...vm.blanks].map((volume) => volume.path);
      if (volumes.some((path) => path.startsWith('/lvm/'))) roots.push('lvm');
      assert.deepEqual((await list(engine, vm.name, '/')).map((entry) => entry.name).sort(), roots.sort());
      const folders = new Map<string, string[]>();
      for (const path of volumes) {
        folders.set(dirname(path), [...(folders.get(dirname(path)) ?? []), posix.basename(path)]);
        if (path.startsWith('/lvm/')) folders.set('/lvm', [...new Set([...(folders.get('/lvm') ?? []), path.split('/')[2] as string])]);
      }
      for (const [folder, names] of folders)
        assert.deepEqual((await list(engine, vm.name, folder)).map((entry) => entry.name).sort(), names.sort(), `${folder} lists`);
    });

    for (const fs of vm.fileSystems)
      await t.test(`${fs.path} is listed as ${fs.kind}${fs.label ? ` "${fs.label}"` : ''} of its size`, async () => {
        const entry = await volumeEntry(engine, vm.name, fs.path);
        assert.equal(entry.problem, undefined, `${fs.path}: ${entry.problem}`);
        assert.deepEqual([entry.type, entry.target, entry.size], ['dir', `${fs.kind}${fs.label ? ` "${fs.label}"` : ''}`, fs.size]);
      });
    for (const blank of vm.blanks)
      await t.test(`${blank.path} is listed as what it is (${blank.what.source}), not as damaged`, async () => {
        const entry = await volumeEntry(engine, vm.name, blank.path);
        assert.equal(entry.type, 'other', blank.path);
        assert.match(entry.target ?? '', blank.what);
        assert.doesNotMatch(`${entry.target} ${entry.problem ?? ''}`, /damaged|unknown/i);
        assert.equal(entry.size, blank.size, `${blank.path}'s size`);
      });

    for (const fs of vm.fileSystems) {
      const kernel = await kernelView(fs);
      await t.test(`${fs.path} (${fs.kind}): the images hold what the tests expect`, () => {
        assert.ok(kernel.tree.length > 0);
        if (fs.links) assert.equal(kernel.linked, true, `${fs.links.join(' and ')} are one file in the kernel's view`);
        if (fs.sparse) assert.equal(kernel.sparse, true, `${fs.sparse} is sparse in the kernel's view`);
      });
      await t.test(`${fs.path} (${fs.kind}): every listing equals the kernel's`, async () => {
        assert.deepEqual(await listedTree(engine, vm.name, fs.path), withoutContent(kernel.tree));
      });
      await t.test(`${fs.path} (${fs.kind}): files ls answers every folder from the file index as the point lists it`, async () => {
        const pointId = engine.lookup.resolvePointId(engine.lookup.resolveVm(vm.name).id, 'latest');
        assert.notEqual(engine.catalog.files.listings(pointId), null, 'the backup indexed the point in the listing form');
        assert.deepEqual(await indexAgainstListing(engine, vm.name, fs.path), []);
      });
      await t.test(`${fs.path} (${fs.kind}): a restore of the whole volume equals the kernel's view`, async () => {
        const out = join(dir, `restored${fs.path.replaceAll('/', '-')}`);
        await restoreVolume(engine, vm.name, fs.path, out);
        assert.deepEqual(await treeOfFolder(out), kernel.tree);
        if (kernel.meta) assert.deepEqual(await filesMeta(out), kernel.meta, 'files keep their modes and modification times');
        if (fs.links) assert.equal(await sameFile(out, fs.links), true, `${fs.links.join(' and ')} restored as hard links`);
        if (fs.sparse) assert.equal(await isSparse(out, fs.sparse), true, `${fs.sparse} restored sparse`);
      });
    }

    for (const { pattern, hit } of vm.searches)
      await t.test(`files search ${pattern} finds ${hit}`, () => {
        const paths = engine.files.search(pattern, vm.name).hits.map((found) => found.path);
        assert.ok(paths.includes(hit), `found: ${paths.join(', ') || 'nothing'}`);
      });
    await t.test('the index has no gaps: every volume was read', () => {
      assert.deepEqual(engine.files.search('hostname', vm.name).gaps, []);
    });
  });
}
