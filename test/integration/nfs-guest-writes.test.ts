// The writes a real guest's disk sees through QEMU's NFS client (qemu-io drives the same block
// layer and libnfs as a booted guest): write-zeroes that QEMU turns into 16 MiB zero writes that
// libnfs splits into 1 MiB WRITEs in flight together, unaligned ranges that start or end inside
// a 64 KiB cache chunk or a 1 MiB backup block, writes past 2 and 4 GiB and into a disk's last,
// partial chunk, overlapping rewrites after a flush, and COMMITs. Each must succeed, and the
// export must then read exactly what a plain file given the same writes holds. Served from a
// restore point (the engine's path) and from a sparse raw disk larger than 4 GiB.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { RawDisk } from '../../electron/disks/raw-disk.ts';
import { openBackupVolume } from '../../electron/nfs/backup-volume.ts';
import { NfsServer } from '../../electron/nfs/nfs-server.ts';
import { OverlayVolume } from '../../electron/nfs/volume.ts';
import { makeVmFolder, openEngine, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';
import { handleOf, nfsRead } from '../helpers/nfs-rpc.ts';
import { withNfsPorts } from '../helpers/port-lock.ts';

const run = promisify(execFile);
const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

function missingQemuIo(): string | null {
  try {
    execFileSync('qemu-io', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'qemu-io is not installed (apt-get install qemu-utils qemu-block-extra)';
  }
  try {
    execFileSync('qemu-io', ['-c', 'quit', 'nfs://127.0.0.1/nowhere/x'], { stdio: 'pipe', timeout: 10_000 });
  } catch (error) {
    if (/Unknown protocol|not whitelisted|unknown driver/i.test(String((error as { stderr?: Buffer }).stderr ?? ''))) {
      return "QEMU's NFS block driver is missing (apt-get install qemu-block-extra)";
    }
  }
  return null;
}
const missing = missingQemuIo();

/** One guest write: data of a byte pattern, or zeros the way a guest's WRITE_ZEROES reaches QEMU. */
type Op = { kind: 'pattern'; offset: number; length: number; byte: number } | { kind: 'zero'; offset: number; length: number };

/** qemu-io commands: the ops of a batch are in flight together (aio), then flushed. */
function qemuIoCommands(batches: Op[][]): string[] {
  const commands: string[] = [];
  for (const batch of batches) {
    for (const op of batch)
      commands.push(
        '-c',
        op.kind === 'zero' ? `aio_write -z ${op.offset} ${op.length}` : `aio_write -P ${op.byte} ${op.offset} ${op.length}`,
      );
    commands.push('-c', 'aio_flush', '-c', 'flush');
  }
  return commands;
}

/** Applies the ops to the plain file that says what the disk must read afterwards. */
async function applyToModel(model: FileHandle, batches: Op[][]): Promise<void> {
  for (const op of batches.flat()) await model.write(Buffer.alloc(op.length, op.kind === 'zero' ? 0 : op.byte), 0, op.length, op.offset);
}

/** Every byte of each op's range and of the 1 MiB around it, read over NFS, equals the model. */
async function assertReadsLikeModel(port: number, exportPath: string, model: FileHandle, capacity: number, ops: Op[]): Promise<void> {
  const handle = await handleOf(port, exportPath, ['vm', 'vm-flat.vmdk']);
  for (const op of ops) {
    const start = Math.max(0, op.offset - MIB);
    const end = Math.min(capacity, op.offset + op.length + MIB);
    for (let at = start; at < end; at += MIB) {
      const count = Math.min(MIB, end - at);
      const read = await nfsRead(port, handle, at, count);
      assert.equal(read.status, 0, `READ ${at}+${count} of ${exportPath}`);
      const expected = Buffer.alloc(count);
      await model.read(expected, 0, count, at);
      assert.ok(Buffer.from(read.data).equals(expected), `${exportPath} at ${at}+${count} reads what the guest wrote there`);
    }
  }
}

/** Runs the batches through qemu-io against the export; fails on any refused write or flush. */
async function guestWrites(url: string, batches: Op[][]): Promise<void> {
  const { stdout, stderr } = await run('qemu-io', ['-f', 'raw', ...qemuIoCommands(batches), url], {
    timeout: 120_000,
    maxBuffer: 16 * MIB,
  });
  const output = `${stdout}\n${stderr}`;
  assert.doesNotMatch(output, /failed|error/i, `qemu-io reported a refused write:\n${output.slice(0, 2000)}`);
  const done = output.match(/^wrote \d+\/\d+ bytes/gm) ?? [];
  assert.equal(done.length, batches.flat().length, `every write completed:\n${output.slice(0, 2000)}`);
}

/** What ext4, the block layer and mkfs send a disk of `capacity` bytes, by shape. */
function guestBatches(capacity: number): Op[][] {
  const lastChunk = Math.floor(capacity / (64 * KIB)) * 64 * KIB;
  return [
    [
      // ext4lazyinit zeroing inode tables: 2 MiB ranges, the first starting inside a chunk
      { kind: 'zero', offset: 5 * MIB + 4 * KIB, length: 2 * MIB },
      { kind: 'zero', offset: 7 * MIB + 4 * KIB, length: 2 * MIB - 40 * KIB },
      // journal blocks and a 512 KiB write ending inside a chunk and a block
      { kind: 'pattern', offset: 300 * KIB, length: 4 * KIB, byte: 0x4a },
      { kind: 'pattern', offset: 9 * MIB + 512, length: 512 * KIB, byte: 0x5b },
      // mkfs zeroing a journal: one request QEMU splits in 16 MiB zero writes
      { kind: 'zero', offset: 10 * MIB + 512, length: 40 * MIB + 3 * 512 },
    ],
    [
      // after a flush: rewrites over what the first batch wrote, ends and starts anywhere
      { kind: 'pattern', offset: 5 * MIB + 60 * KIB, length: 70 * KIB, byte: 0x6c },
      { kind: 'zero', offset: 9 * MIB + 256 * KIB, length: 512 * KIB },
      { kind: 'pattern', offset: 30 * MIB - 512, length: 3 * MIB + 1024, byte: 0x7d },
      // the disk's last chunk, which the capacity ends inside
      { kind: 'pattern', offset: lastChunk - 4 * KIB, length: capacity - lastChunk + 4 * KIB, byte: 0x8e },
    ],
    [{ kind: 'zero', offset: capacity - 6 * 512, length: 6 * 512 }],
  ];
}

/** Beyond 2 and 4 GiB, for disks that large. */
function farBatches(capacity: number): Op[][] {
  return [
    [
      { kind: 'pattern', offset: 2 * GIB - 3 * 512, length: 2 * MIB, byte: 0x9f },
      { kind: 'zero', offset: 4 * GIB - 64 * KIB + 512, length: 2 * MIB },
      { kind: 'pattern', offset: 4 * GIB + 2 * MIB + 5 * 512, length: 1 * MIB + 512, byte: 0xa1 },
    ],
    [
      { kind: 'zero', offset: 2 * GIB - 512, length: 512 * KIB },
      { kind: 'pattern', offset: 4 * GIB - 512, length: 1024, byte: 0xb2 },
      { kind: 'zero', offset: capacity - MIB - 512, length: MIB + 512 },
    ],
  ];
}

/** Applies `batches` to the plain-file model, then through QEMU to `volume` exported as
 * /lifeboat/<name> on 2049 (and 111), and checks the export reads like the model. */
async function exportAndCheck(volume: OverlayVolume, name: string, model: string, capacity: number, batches: Op[][]): Promise<void> {
  const handle = await open(model, 'r+');
  try {
    await applyToModel(handle, batches);
    await withNfsPorts(async () => {
      const server = await NfsServer.listen('127.0.0.1', 2049, { portmapperPort: 111 });
      try {
        server.addExport(`/lifeboat/${name}`, volume);
        await guestWrites(`nfs://127.0.0.1/lifeboat/${name}/vm/vm-flat.vmdk`, batches);
        await assertReadsLikeModel(server.port, `/lifeboat/${name}`, handle, capacity, batches.flat());
      } finally {
        await server.close();
      }
    });
  } finally {
    await handle.close();
  }
}

test(
  'guest-shaped writes through QEMU reach a restore point export, and it reads them back exactly',
  { skip: missing ?? false, timeout: 300_000 },
  async () => {
    const dir = await tempDir('lifeboat-guest-writes-');
    // A capacity that is a multiple of neither the 64 KiB cache chunk nor the 1 MiB backup block.
    const capacity = 64 * MIB + 44 * KIB + 512;
    const raw = join(dir, 'vm.raw');
    await writeMixedRaw(raw, 65, 3);
    await truncate(raw, capacity);
    const model = join(dir, 'model.raw');
    await copyFile(raw, model);
    const engine = await openEngine(join(dir, 'home'));
    const folder = join(dir, 'vm');
    await mkdir(folder);
    await makeVmFolder(folder, 'vm', raw, 'monolithicFlat');
    const backup = await runJob(engine, await engine.backups.start(folder, 'test'));
    assert.equal(backup.state, 'succeeded', backup.error ?? '');
    const vmId = engine.lookup.resolveVm('vm').id;
    const volume = await openBackupVolume(engine.repository, vmId, engine.lookup.resolvePointId(vmId, 'latest'), {
      exportFolder: join(dir, 'export'),
      cacheFolder: join(dir, 'cache'),
    });
    assert.equal(volume.disks()[0]?.size, capacity);
    const batches = guestBatches(capacity);
    await exportAndCheck(volume, 'point', model, capacity, batches);
  },
);

test(
  'guest-shaped writes past 2 and 4 GiB reach a large sparse disk, and it reads them back exactly',
  { skip: missing ?? false, timeout: 300_000 },
  async () => {
    const dir = await tempDir('lifeboat-guest-writes-');
    const capacity = 4 * GIB + 3 * MIB + 44 * KIB + 512;
    const raw = join(dir, 'big.raw');
    const base = await open(raw, 'w');
    // Sparse, with data where the writes land so the copy under partial writes shows.
    await base.truncate(capacity);
    for (const at of [2 * GIB - 2 * MIB, 4 * GIB - 2 * MIB, 4 * GIB + 2 * MIB, capacity - 2 * MIB, 5 * MIB])
      await base.write(randomBytes(2 * MIB), 0, 2 * MIB, at);
    await base.close();
    const model = join(dir, 'model.raw');
    execFileSync('cp', ['--sparse=always', raw, model]);
    const exportFolder = join(dir, 'export');
    await mkdir(join(exportFolder, 'vm'), { recursive: true });
    await mkdir(join(dir, 'cache'));
    const volume = await OverlayVolume.open('vm', { exportFolder, vmFolder: 'vm', cacheFolder: join(dir, 'cache') }, [
      { name: 'vm-flat.vmdk', disk: await RawDisk.open(raw) },
    ]);
    const batches = [...guestBatches(capacity), ...farBatches(capacity)];
    await exportAndCheck(volume, 'big', model, capacity, batches);
  },
);
