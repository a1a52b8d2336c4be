// The Instant Recovery write cache against a plain model of the file: random sequences and
// concurrent batches of reads, writes (zeros, unaligned, across chunk ends, past the end), resizes,
// commits and "engine killed" (the volume dropped unclosed and its folder resumed), over a disk
// held in memory and over a real restore point whose capacity is no multiple of a chunk or a
// backup block. Then writes racing on the same bytes, and damaged persisted state refused.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import type { Disk } from '../../electron/disks/disk.ts';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import { MAP_HEADER, MAP_RECORD, replayMap } from '../../electron/nfs/chunk-map.ts';
import { encodeHandle, nfsProcedure } from '../../electron/nfs/nfs-program.ts';
import { NfsStatus, type NfsStatusError } from '../../electron/nfs/nfs-status.ts';
import { CHUNK, OverlayVolume, Stable, type StableHow, VM_FOLDER_ID, type VolumeFolders } from '../../electron/nfs/volume.ts';
import { resolvePoint } from '../../electron/repository/chain.ts';
import { PointDisk } from '../../electron/repository/point-disk.ts';
import { XdrReader, XdrWriter } from '../../electron/nfs/xdr.ts';
import { ORDER_STEPS, plannedWrite, writerBase, WRITER_DISK } from '../helpers/cache-writer.ts';
import { makeVmFolder, openEngine, runJob, tempDir } from '../helpers/env.ts';

const dir = await tempDir('lifeboat-cache-fuzz-');
const DISK = 'disk-flat.vmdk';

/** A base the volume may close as often as it likes (the runs share one), its reads answered
 * after a few turns of the event loop that vary with the offset and `jitter`: so the writes of a
 * batch interleave differently from run to run. */
function shared(disk: Disk, jitter = 0): Disk {
  return {
    capacity: disk.capacity,
    description: disk.description,
    read: async (offset, length) => {
      for (let turn = (Math.floor(offset / 4096) * 7 + jitter) % 4; turn > 0; turn--) await new Promise(setImmediate);
      return disk.read(offset, length);
    },
    close: async () => {},
  };
}

const memoryBytes = randomBytes(5 * CHUNK + 777);
// A restore point's disk of 3 MiB less 3 sectors: no multiple of 64 KiB nor of the 1 MiB block.
const pointBytes = randomBytes(3 * 1024 * 1024 - 1536);
pointBytes.fill(0, CHUNK, 3 * CHUNK);
const pointDisk = await (async () => {
  const engine = await openEngine(join(dir, 'home'));
  const source = join(dir, 'source');
  await mkdir(source);
  const raw = join(dir, 'odd.raw');
  await writeFile(raw, pointBytes);
  await makeVmFolder(source, 'odd', raw, 'monolithicSparse');
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  const vmId = engine.lookup.resolveVm('odd').id;
  const [point] = await engine.repository.listPoints(vmId);
  assert.ok(point);
  const disk = new PointDisk(await resolvePoint(engine.repository, vmId, point.id), 'scsi0:0', { cacheBlocks: 4 });
  after(() => disk.close());
  assert.equal(disk.capacity, pointBytes.length);
  return disk;
})();
const BASES: { label: string; disk: Disk; bytes: Buffer }[] = [
  { label: 'memory', disk: new BytesDisk(memoryBytes, 'memory base'), bytes: memoryBytes },
  { label: 'restore point', disk: pointDisk, bytes: pointBytes },
];

// The caches live in memory when the machine has /dev/shm: flushes cost nothing there, and what
// is checked (what a killed process leaves in the kernel) is the same.
const cacheRoot = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : dir, 'lifeboat-cache-fuzz-'));
after(() => rm(cacheRoot, { recursive: true, force: true }));

async function newFolders(): Promise<VolumeFolders> {
  const root = await mkdtemp(join(cacheRoot, 'volume-'));
  await mkdir(join(root, 'export', 'vm'), { recursive: true });
  await writeFile(join(root, 'export', 'vm', 'vm.vmx'), 'config');
  return { exportFolder: join(root, 'export'), vmFolder: 'vm', cacheFolder: join(root, 'cache') };
}

/** The file as a client must see it. */
class Model {
  bytes: Buffer;
  constructor(base: Buffer) {
    this.bytes = Buffer.from(base);
  }
  write(offset: number, data: Uint8Array): void {
    if (data.length === 0) return; // as write(2): nothing written, nothing grown
    this.resize(Math.max(this.bytes.length, offset + data.length));
    this.bytes.set(data, offset);
  }
  resize(size: number): void {
    if (size <= this.bytes.length) this.bytes = Buffer.from(this.bytes.subarray(0, size));
    else this.bytes = Buffer.concat([this.bytes, Buffer.alloc(size - this.bytes.length)]);
  }
}

/** A volume over one base, "killed" (dropped unclosed) and resumed as the test says. */
class Subject {
  volume!: OverlayVolume;
  readonly dropped: OverlayVolume[] = [];
  readonly folders: VolumeFolders;
  readonly base: Disk;
  private constructor(folders: VolumeFolders, base: Disk) {
    this.folders = folders;
    this.base = base;
  }
  static async open(base: Disk, jitter = 0): Promise<Subject> {
    const subject = new Subject(await newFolders(), shared(base, jitter));
    subject.volume = await OverlayVolume.open('vm', subject.folders, [{ name: DISK, disk: subject.base }]);
    return subject;
  }
  get id(): number {
    return this.volume.lookup(VM_FOLDER_ID, DISK);
  }
  async kill(): Promise<void> {
    const ids = this.volume.list(VM_FOLDER_ID);
    this.dropped.push(this.volume);
    this.volume = await OverlayVolume.open('vm', this.folders, [{ name: DISK, disk: this.base }], { resume: true });
    assert.deepEqual(this.volume.list(VM_FOLDER_ID), ids, 'the same file ids after a restart');
  }
  async end(): Promise<void> {
    await this.volume.close();
    for (const volume of this.dropped) await volume.close();
    await rm(join(this.folders.cacheFolder, '..'), { recursive: true, force: true });
  }
}

async function readAll(volume: OverlayVolume, id: number, size: number): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < size; at += 1024 * 1024) parts.push((await volume.read(id, at, 1024 * 1024)).data);
  return Buffer.concat(parts);
}

async function matches(subject: Subject, model: Model, why: string): Promise<void> {
  const id = subject.id;
  assert.equal(subject.volume.attr(id).size, model.bytes.length, `${why}: size`);
  const got = await readAll(subject.volume, id, model.bytes.length);
  if (!got.equals(model.bytes)) {
    let first = 0;
    while (got[first] === model.bytes[first]) first++;
    assert.fail(`${why}: first difference at byte ${first} (chunk ${Math.floor(first / CHUNK)})`);
  }
}

const LIMIT = 9 * CHUNK;
const data = (length: number, zeros: boolean, seed: number): Buffer => {
  const out = Buffer.alloc(length);
  if (!zeros) for (let i = 0; i < length; i++) out[i] = (seed + i * 7 + (i >> 9)) & 255 || 1;
  return out;
};
const writeOp = fc.record({
  kind: fc.constant('write' as const),
  offset: fc.oneof(
    fc.nat(LIMIT),
    fc.nat(8).map((chunk) => chunk * CHUNK),
    fc.integer({ min: 1, max: 8 }).map((chunk) => chunk * CHUNK - 3),
  ),
  length: fc.oneof(fc.nat(3 * CHUNK + 9), fc.constantFrom(CHUNK, 2 * CHUNK, 4096, 1, 0)),
  zeros: fc.boolean(),
  seed: fc.nat(255),
  stable: fc.constantFrom<StableHow>(Stable.unstable, Stable.dataSync, Stable.fileSync),
});
const otherOp = fc.oneof(
  fc.record({ kind: fc.constant('read' as const), offset: fc.nat(LIMIT), count: fc.nat(3 * CHUNK) }),
  fc.record({
    kind: fc.constant('size' as const),
    size: fc.oneof(
      fc.nat(LIMIT),
      fc.nat(8).map((chunk) => chunk * CHUNK + 1),
    ),
  }),
  fc.record({ kind: fc.constant('commit' as const) }),
  fc.record({ kind: fc.constant('kill' as const) }),
  // Disjoint pieces of one region (so they share chunks) written at once, reads among them.
  fc.record({
    kind: fc.constant('batch' as const),
    start: fc.nat(LIMIT - 3 * CHUNK),
    cuts: fc.uniqueArray(fc.integer({ min: 1, max: 3 * CHUNK - 1 }), { maxLength: 6 }),
    zeros: fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
    reads: fc.array(fc.record({ offset: fc.nat(3 * CHUNK), count: fc.nat(CHUNK * 2) }), { maxLength: 3 }),
    resizeAt: fc.option(fc.record({ position: fc.nat(6), size: fc.nat(LIMIT) })),
  }),
);
const ops = fc.array(fc.oneof(writeOp, otherOp), { minLength: 1, maxLength: 25 });
type Op = typeof ops extends fc.Arbitrary<(infer T)[]> ? T : never;

async function apply(subject: Subject, model: Model, op: Op): Promise<void> {
  const volume = subject.volume;
  const id = subject.id;
  switch (op.kind) {
    case 'write': {
      const bytes = data(op.length, op.zeros, op.seed);
      const committed = await volume.write(id, op.offset, bytes, op.stable);
      assert.equal(committed, op.stable, 'committed as asked');
      model.write(op.offset, bytes);
      return;
    }
    case 'read': {
      const { data: got, eof } = await volume.read(id, op.offset, op.count);
      const want = model.bytes.subarray(Math.min(op.offset, model.bytes.length), Math.min(op.offset + op.count, model.bytes.length));
      assert.ok(Buffer.from(got).equals(want), `read of ${op.count} at ${op.offset}`);
      if (op.count > 0) assert.equal(eof, op.offset + op.count >= model.bytes.length);
      return;
    }
    case 'size':
      await volume.setSize(id, op.size);
      model.resize(op.size);
      return;
    case 'commit':
      await volume.commit(id);
      return;
    case 'kill':
      await subject.kill();
      await matches(subject, model, 'after the restart');
      return;
    case 'batch': {
      const bounds = [0, ...[...op.cuts].sort((a, b) => a - b), 3 * CHUNK];
      const pieces = bounds.slice(1).map((end, index) => {
        const from = bounds[index] as number;
        return { offset: op.start + from, bytes: data(end - from, op.zeros[index] ?? false, index * 31 + 5) };
      });
      // Disjoint writes commute; a resize runs alone, after the calls before it and before those after.
      const calls: Promise<unknown>[] = [];
      const before = Buffer.from(model.bytes);
      pieces.forEach((piece, index) => {
        if (op.resizeAt?.position === index) {
          calls.push(volume.setSize(id, op.resizeAt.size));
          model.resize(op.resizeAt.size);
        }
        calls.push(volume.write(id, piece.offset, piece.bytes, Stable.unstable));
        model.write(piece.offset, piece.bytes);
      });
      const reads = op.reads.map((read) => ({ ...read, offset: op.start + read.offset }));
      const results = await Promise.all([...calls, ...reads.map((read) => volume.read(id, read.offset, read.count))]);
      if (op.resizeAt) return; // a read racing a resize may see either size: checked by the next full compare
      reads.forEach((read, index) => {
        const got = (results[calls.length + index] as { data: Uint8Array }).data;
        // Each byte is as before the batch or as after it: never a base copied over a written byte.
        for (let i = 0; i < got.length; i++) {
          const at = read.offset + i;
          const old = at < before.length ? before[at] : 0;
          assert.ok(got[i] === old || got[i] === model.bytes[at], `a read racing writes: byte ${at} is ${got[i]}`);
        }
      });
      return;
    }
  }
}

for (const base of BASES) {
  test(`the write cache over a ${base.label} matches a plain file through random and concurrent I/O and restarts`, async () => {
    await fc.assert(
      fc.asyncProperty(ops, fc.nat(3), async (sequence, jitter) => {
        const subject = await Subject.open(base.disk, jitter);
        try {
          const model = new Model(base.bytes);
          for (const op of sequence) await apply(subject, model, op);
          await matches(subject, model, 'at the end');
          await subject.kill();
          await matches(subject, model, 'after a last restart');
        } finally {
          await subject.end();
        }
      }),
      { numRuns: base.label === 'memory' ? 120 : 40 },
    );
  });
}

test("writes racing on the same bytes leave one writer's bytes whole, the rest of the file untouched", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...BASES),
      fc.nat(4 * CHUNK),
      fc.integer({ min: 1, max: 2 * CHUNK + 5 }),
      fc.integer({ min: 2, max: 5 }),
      fc.boolean(),
      async (base, offset, length, writers, warm) => {
        const subject = await Subject.open(base.disk);
        try {
          const model = new Model(base.bytes);
          const id = subject.id;
          // Half the runs have the first chunk already cached: racers then meet a mix.
          if (warm) {
            const early = data(10, false, 99);
            await subject.volume.write(id, offset, early);
            model.write(offset, early);
          }
          const fills = Array.from({ length: writers }, (_, index) => Buffer.alloc(length, 0x10 + index));
          await Promise.all(fills.map((fill) => subject.volume.write(id, offset, fill)));
          const { data: got } = await subject.volume.read(id, offset, length);
          assert.ok(
            fills.some((fill) => fill.equals(got)),
            'the range holds exactly one writer',
          );
          model.write(offset, got);
          await matches(subject, model, 'around the race');
          await subject.kill();
          await matches(subject, model, 'around the race, after a restart');
        } finally {
          await subject.end();
        }
      },
    ),
    { numRuns: 60 },
  );
});

/** A disk past 4 GiB whose bytes are a function of their offset (never stored). */
class PatternDisk implements Disk {
  readonly description = 'pattern disk';
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }
  static byte(at: number): number {
    return (at % 251) ^ (Math.floor(at / 4096) & 255);
  }
  async read(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = PatternDisk.byte(offset + i);
    return out;
  }
  async close(): Promise<void> {}
}

test('offsets past 4 GiB: writes across the 4 GiB line and past the end, read back before and after a restart', async () => {
  const GIB = 1024 ** 3;
  const base = new PatternDisk(6 * GIB + 512 * 3);
  const subject = await Subject.open(base);
  try {
    const id = subject.id;
    const writes = [
      { at: 4 * GIB - 1000, bytes: data(CHUNK + 2000, false, 3) },
      { at: 5 * GIB + 17, bytes: data(300, true, 0) },
      { at: base.capacity - 100, bytes: data(CHUNK, false, 9) },
    ];
    for (const write of writes) await subject.volume.write(id, write.at, write.bytes, Stable.fileSync);
    const check = async (): Promise<void> => {
      assert.equal(subject.volume.attr(id).size, base.capacity - 100 + CHUNK);
      for (const write of writes) {
        const from = write.at - 700;
        const { data: got } = await subject.volume.read(id, from, write.bytes.length + 1400);
        for (let i = 0; i < got.length; i++) {
          const at = from + i;
          const inside = at >= write.at && at < write.at + write.bytes.length;
          const want = inside ? write.bytes[at - write.at] : at < base.capacity ? PatternDisk.byte(at) : 0;
          if (got[i] !== want) assert.fail(`byte ${at}: ${got[i]}, not ${want}`);
        }
      }
    };
    await check();
    await subject.kill();
    await check();
  } finally {
    await subject.end();
  }
});

test('a cache folder damaged or made over other bases is refused with one clear error, never served', async () => {
  const base = BASES[0] as (typeof BASES)[number];
  const prepared = async (): Promise<Subject> => {
    const subject = await Subject.open(base.disk);
    await subject.volume.write(subject.id, CHUNK - 10, data(CHUNK, false, 1));
    await subject.volume.write(subject.id, 4 * CHUNK, data(100, false, 2));
    await subject.volume.setSize(subject.id, 7 * CHUNK + 3);
    return subject;
  };
  const resume = (subject: Subject, bases = [{ name: DISK, disk: shared(base.disk) }], name = 'vm'): Promise<OverlayVolume> =>
    OverlayVolume.open(name, subject.folders, bases, { resume: true });
  const subjects: Subject[] = [];
  try {
    const fresh = await prepared();
    subjects.push(fresh);
    const id = fresh.id;
    const cache = fresh.folders.cacheFolder;
    const mapPath = join(cache, `${id}.map`);
    const mapBytes = await readFile(mapPath);
    assert.equal((mapBytes.length - MAP_HEADER) % MAP_RECORD, 0);
    await assert.rejects(OverlayVolume.open('vm', fresh.folders, [{ name: DISK, disk: shared(base.disk) }]), {
      code: 'conflict',
      message: /already holds/,
    });
    await assert.rejects(resume(fresh, [{ name: DISK, disk: new BytesDisk(Buffer.alloc(CHUNK), 'small') }]), {
      code: 'conflict',
      message: /bytes/,
    });
    await assert.rejects(resume(fresh, [{ name: 'other-flat.vmdk', disk: shared(base.disk) }]), { code: 'conflict' });
    await assert.rejects(resume(fresh, [], 'another vm'), { code: 'conflict', message: /another vm/ });
    // Any byte of the header or of a record followed by others changed, or the map cut inside the
    // header: refused. The LAST record torn (cut short or a bad checksum, as a power loss leaves
    // it): dropped, the map cut after the good records, the rest served.
    const lastRecord = mapBytes.length - MAP_RECORD;
    await fc.assert(
      fc.asyncProperty(fc.nat(mapBytes.length - 1), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (at, flip, cut) => {
        const damaged = Buffer.from(mapBytes);
        let good: number | null;
        if (cut) {
          // Cut inside the header or inside a record (a cut between records is a shorter history).
          const length = at >= MAP_HEADER && (at - MAP_HEADER) % MAP_RECORD === 0 ? at + 1 : at;
          await writeFile(mapPath, damaged.subarray(0, length));
          good = length < MAP_HEADER ? null : length - ((length - MAP_HEADER) % MAP_RECORD);
        } else {
          damaged[at] = (damaged[at] as number) ^ flip;
          await writeFile(mapPath, damaged);
          good = at >= lastRecord ? lastRecord : null;
        }
        if (good === null) {
          await assert.rejects(resume(fresh), (error: { code?: string }) => error.code === 'corrupt-backup' || error.code === 'conflict');
          return;
        }
        const volume = await resume(fresh);
        try {
          const expected = replayMap(mapBytes.subarray(0, good), CHUNK, base.disk.capacity, 'the good records');
          assert.equal(expected.dropped, null);
          const [disk] = volume.disks();
          assert.equal(disk?.size, expected.size, 'the size the good records say');
          assert.deepEqual(
            disk?.writtenChunks,
            [...expected.chunks].sort((x, y) => x - y),
            'the chunks the good records say',
          );
          assert.equal((await readFile(mapPath)).length, good, 'the torn record is cut off the map');
        } finally {
          await volume.close();
        }
      }),
      { numRuns: 200 },
    );
    await writeFile(mapPath, mapBytes);
    const table = join(cache, 'volume.json');
    const tableText = await readFile(table, 'utf8');
    for (const bad of ['', '{', tableText.replace('"nextId": ', '"nextId": -'), tableText.replace('lifeboat-instant-cache', 'x')]) {
      await writeFile(table, bad);
      await assert.rejects(resume(fresh), { code: 'corrupt-backup' });
    }
    await rm(table);
    await assert.rejects(resume(fresh), { code: 'corrupt-backup', message: /no volume.json/ });
    await writeFile(table, tableText);
    await rm(join(cache, `${id}.cache`));
    await assert.rejects(resume(fresh), { code: 'corrupt-backup', message: /lacks its file/ });
    // Intact again: resumed, and the same bytes as before.
    const again = await prepared();
    subjects.push(again);
    const model = new Model(base.bytes);
    model.write(CHUNK - 10, data(CHUNK, false, 1));
    model.write(4 * CHUNK, data(100, false, 2));
    model.resize(7 * CHUNK + 3);
    await again.kill();
    await matches(again, model, 'resumed intact');
  } finally {
    for (const subject of subjects) await subject.end();
  }
});

test('plain files and renamed or deleted disks keep their ids across a restart', async () => {
  const folders = await newFolders();
  const volume = await OverlayVolume.open('vm', folders, [
    { name: DISK, disk: new BytesDisk(memoryBytes, 'first') },
    { name: 'second-flat.vmdk', disk: new BytesDisk(Buffer.alloc(CHUNK * 2), 'second') },
  ]);
  const temporary = await volume.create(VM_FOLDER_ID, 'vmware.log.new', true);
  await volume.write(temporary, 0, Buffer.from('booted\n'), Stable.fileSync);
  await volume.rename(VM_FOLDER_ID, 'vmware.log.new', VM_FOLDER_ID, 'vmware.log');
  const log = volume.lookup(VM_FOLDER_ID, 'vmware.log');
  assert.equal(log, temporary, 'a renamed file keeps its id');
  // Many files made at once: ids past the first reserved block.
  for (let index = 0; index < 300; index++) await writeFile(join(folders.exportFolder, 'vm', `f${index}.lck`), '');
  volume.list(VM_FOLDER_ID);
  await volume.rename(VM_FOLDER_ID, DISK, VM_FOLDER_ID, 'renamed-flat.vmdk');
  await volume.write(volume.lookup(VM_FOLDER_ID, 'renamed-flat.vmdk'), 10, Buffer.from('x'));
  await volume.remove(VM_FOLDER_ID, 'second-flat.vmdk');
  const ids = volume.list(VM_FOLDER_ID);
  await volume.commit(); // new names are saved in the background; a COMMIT waits for them
  // Killed: the next engine resumes the folder with the point's disks under their first names.
  const resumed = await OverlayVolume.open(
    'vm',
    folders,
    [
      { name: DISK, disk: new BytesDisk(memoryBytes, 'first') },
      { name: 'second-flat.vmdk', disk: new BytesDisk(Buffer.alloc(CHUNK * 2), 'second') },
    ],
    { resume: true },
  );
  try {
    assert.deepEqual(resumed.list(VM_FOLDER_ID), ids);
    assert.equal(resumed.lookup(VM_FOLDER_ID, 'vmware.log'), log);
    assert.equal(Buffer.from((await resumed.read(log, 0, 100)).data).toString(), 'booted\n');
    const { data: head } = await resumed.read(resumed.lookup(VM_FOLDER_ID, 'renamed-flat.vmdk'), 0, 12);
    assert.equal(head[10], 'x'.charCodeAt(0));
    assert.ok(Buffer.from(head.subarray(0, 10)).equals(memoryBytes.subarray(0, 10)));
    assert.throws(() => resumed.lookup(VM_FOLDER_ID, 'second-flat.vmdk'), /does not exist/);
  } finally {
    await resumed.close();
    await volume.close();
  }
});

test('an engine killed with -9 in the middle of a write stream loses no acknowledged write', async () => {
  const child = join(import.meta.dirname, '..', 'helpers', 'cache-writer-child.ts');
  const base = writerBase();
  for (const killAfter of [5, 37, 120]) {
    const folders = await newFolders();
    const writer = spawn(process.execPath, [child, JSON.stringify(folders)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    writer.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<void>((resolve) => writer.once('exit', () => resolve()));
    let acked = -1;
    try {
      await new Promise<void>((resolve, reject) => {
        let text = '';
        writer.stdout.on('data', (chunk: Buffer) => {
          text += chunk.toString();
          for (const line of text.split('\n').slice(0, -1)) {
            if (!line.startsWith('ack ')) continue;
            acked = Number(line.slice(4));
            // The child waits for "go" after each ack: killed here, no write is in flight.
            if (acked < killAfter) writer.stdin.write('go\n');
            else {
              writer.kill('SIGKILL');
              resolve();
            }
          }
          text = text.slice(text.lastIndexOf('\n') + 1);
        });
        void exited.then(() => reject(new Error(`the writer ended on its own: ${stderr}`)));
      });
    } finally {
      writer.kill('SIGKILL');
      await exited;
    }
    // Every write acknowledged is there, and nothing else: the child was killed between two writes.
    const model = new Model(base);
    for (let index = 0; index <= acked; index++) {
      const { offset, bytes } = plannedWrite(index);
      model.write(offset, bytes);
    }
    const volume = await OverlayVolume.open('vm', folders, [{ name: WRITER_DISK, disk: new BytesDisk(base, 'base') }], { resume: true });
    try {
      const id = volume.lookup(VM_FOLDER_ID, WRITER_DISK);
      assert.equal(acked, killAfter);
      const size = volume.attr(id).size;
      assert.equal(size, model.bytes.length, 'size');
      const got = await readAll(volume, id, size);
      for (let at = 0; at < size; at++)
        if (got[at] !== model.bytes[at]) assert.fail(`killed after write ${acked}: byte ${at} is ${got[at]}, not ${model.bytes[at]}`);
      // Written on after the restart like any cache.
      await volume.write(id, 3, Buffer.from('again'), Stable.fileSync);
      assert.equal(Buffer.from((await volume.read(id, 3, 5)).data).toString(), 'again');
    } finally {
      await volume.close();
    }
  }
});

test('a disk removed or renamed while I/O is in flight: the I/O ends before its cache goes, later I/O is stale', async () => {
  const subject = await Subject.open(new BytesDisk(memoryBytes, 'memory base'), 2);
  try {
    const id = subject.id;
    const io = Array.from({ length: 12 }, (_, index) =>
      index % 3 === 2
        ? subject.volume.read(id, index * 5000, CHUNK)
        : subject.volume.write(id, index * 5000, data(7000, index % 2 === 0, index)),
    );
    const renamed = subject.volume.rename(VM_FOLDER_ID, DISK, VM_FOLDER_ID, 'moved-flat.vmdk');
    const removed = subject.volume.remove(VM_FOLDER_ID, 'moved-flat.vmdk');
    const late = subject.volume.write(id, 0, Buffer.from('late'));
    const results = await Promise.allSettled([...io, renamed, removed, late]);
    for (const result of results.slice(0, io.length + 2)) assert.equal(result.status, 'fulfilled', 'I/O in flight ends normally');
    const last = results.at(-1);
    assert.ok(last?.status === 'rejected' && (last.reason as NfsStatusError).status === NfsStatus.stale, 'I/O after the removal is stale');
    assert.deepEqual((await readdir(subject.folders.cacheFolder)).sort(), ['volume.json']);
  } finally {
    await subject.end();
  }
});

test('WRITE answers the stability it reached and COMMIT the same verifier', async () => {
  const subject = await Subject.open(new BytesDisk(memoryBytes, 'memory base'));
  try {
    const handle = encodeHandle(1, subject.id);
    const verifiers: string[] = [];
    for (const stable of [Stable.unstable, Stable.dataSync, Stable.fileSync]) {
      const args = new XdrWriter()
        .opaque(handle)
        .u64(CHUNK - 2)
        .u32(4)
        .u32(stable)
        .opaque(Buffer.from('abcd'))
        .bytes();
      const reply = new XdrReader(Buffer.from((await nfsProcedure(7, new XdrReader(args), () => subject.volume)) as Buffer));
      assert.equal(reply.u32('status'), NfsStatus.ok);
      assert.equal(reply.bool('pre'), false);
      if (reply.bool('post')) reply.fixed(84, 'fattr3');
      assert.equal(reply.u32('count'), 4);
      assert.equal(reply.u32('committed'), stable);
      verifiers.push(Buffer.from(reply.fixed(8, 'verifier')).toString('hex'));
    }
    const commit = new XdrWriter().opaque(handle).u64(0).u32(0).bytes();
    const reply = new XdrReader(Buffer.from((await nfsProcedure(21, new XdrReader(commit), () => subject.volume)) as Buffer));
    assert.equal(reply.u32('status'), NfsStatus.ok);
    for (const part of ['pre', 'post']) if (reply.bool(part)) reply.fixed(84, 'fattr3');
    verifiers.push(Buffer.from(reply.fixed(8, 'verifier')).toString('hex'));
    assert.equal(new Set(verifiers).size, 1);
    const bad = new XdrWriter().opaque(handle).u64(0).u32(1).u32(3).opaque(Buffer.from('x')).bytes();
    assert.equal(
      new XdrReader(Buffer.from((await nfsProcedure(7, new XdrReader(bad), () => subject.volume)) as Buffer)).u32('status'),
      NfsStatus.inval,
    );
  } finally {
    await subject.end();
  }
});

test('metadata on the disk before the reply: CREATE keeps an existing file, COMMIT of a stale handle, a failed removal', async () => {
  const subject = await Subject.open(new BytesDisk(memoryBytes, 'memory base'));
  try {
    const { volume, folders } = subject;
    const disk = subject.id;
    const table = async (): Promise<{ files: { id: number; name: string }[] }> =>
      JSON.parse(await readFile(join(folders.cacheFolder, 'volume.json'), 'utf8')) as { files: { id: number; name: string }[] };
    // A new file's id is in volume.json when CREATE returns (no COMMIT, no background save awaited).
    const created = await volume.create(VM_FOLDER_ID, 'new.log', false);
    assert.ok(
      (await table()).files.some((file) => file.id === created && file.name === 'new.log'),
      'the new id is saved',
    );
    // CREATE UNCHECKED of an existing file: only the size sent is applied (none: the file as it was).
    const createArgs = (name: string, size: number | null): Buffer => {
      const args = new XdrWriter().opaque(encodeHandle(1, VM_FOLDER_ID)).string(name).u32(0).bool(false).bool(false).bool(false);
      (size === null ? args.bool(false) : args.bool(true).u64(size)).u32(0).u32(0);
      return Buffer.from(args.bytes());
    };
    const create = async (name: string, size: number | null): Promise<number> =>
      new XdrReader(Buffer.from((await nfsProcedure(8, new XdrReader(createArgs(name, size)), () => volume)) as Buffer)).u32('status');
    await volume.write(disk, 5, Buffer.from('kept'));
    assert.equal(await create(DISK, null), NfsStatus.ok);
    assert.equal(volume.attr(disk).size, memoryBytes.length, 'the disk keeps its size');
    assert.equal(Buffer.from((await volume.read(disk, 5, 4)).data).toString(), 'kept');
    assert.equal(await create('vm.vmx', 2), NfsStatus.ok);
    assert.equal(volume.attr(volume.lookup(VM_FOLDER_ID, 'vm.vmx')).size, 2, 'the size sent is applied');
    // COMMIT of a file the volume does not have: STALE, not "every disk synced".
    await assert.rejects(volume.commit(9999), (error: NfsStatusError) => error.status === NfsStatus.stale);
    // A removal whose table save fails: the disk is still served, its files open; later it goes.
    const blocker = join(folders.cacheFolder, 'volume.json.new');
    await mkdir(blocker);
    await assert.rejects(volume.remove(VM_FOLDER_ID, DISK));
    assert.equal(volume.lookup(VM_FOLDER_ID, DISK), disk, 'still served');
    await volume.write(disk, 0, Buffer.from('after'), Stable.fileSync);
    assert.equal(Buffer.from((await volume.read(disk, 0, 5)).data).toString(), 'after');
    await rm(blocker, { recursive: true });
    await volume.remove(VM_FOLDER_ID, DISK);
    assert.throws(() => volume.lookup(VM_FOLDER_ID, DISK), /does not exist/);
    assert.deepEqual((await readdir(folders.cacheFolder)).sort(), ['volume.json']);
    // Resumed: the removal and the new file are what the table says.
    await subject.kill();
    assert.equal(subject.volume.lookup(VM_FOLDER_ID, 'new.log'), created);
    assert.throws(() => subject.volume.lookup(VM_FOLDER_ID, DISK), /does not exist/);
  } finally {
    await subject.end();
  }
});

/** What the write path did, as strace saw it (completion order): cache/map written or flushed, or a step marker. */
type Traced = 'cache write' | 'cache sync' | 'map write' | 'map sync' | `step ${string}`;

function parseTrace(text: string): Traced[] {
  const events: Traced[] = [];
  const pending = new Map<string, Traced | null>();
  const classify = (call: string, path: string, rest: string): Traced | null => {
    if (path.endsWith('.json.new')) return null;
    // The child's markers on its stdout (a pipe or a socket, as the runner made it).
    if (call === 'write' || call === 'writev') return (/"(step [^\\"]+)\\n"/.exec(rest)?.[1] as Traced | undefined) ?? null;
    const file = path.endsWith('.cache') ? 'cache' : path.endsWith('.map') ? 'map' : null;
    if (!file) return null;
    return `${file} ${call === 'fdatasync' ? 'sync' : 'write'}`;
  };
  for (const line of text.split('\n')) {
    const resumed = /^(\d+)\s+<\.\.\. \w+ resumed>/.exec(line);
    if (resumed) {
      const event = pending.get(resumed[1] as string);
      pending.delete(resumed[1] as string);
      if (event) events.push(event);
      continue;
    }
    const call = /^(\d+)\s+(pwrite64|pwritev|fdatasync|writev|write)\(\d+<([^>]*)>(.*)$/.exec(line);
    if (!call) continue;
    const [, pid, name, path, rest] = call as unknown as [string, string, string, string, string];
    const event = classify(name, path, rest);
    if (rest.includes('<unfinished ...>')) pending.set(pid, event);
    else if (event) events.push(event);
  }
  return events;
}

test("a new chunk's bytes are flushed before its map record is written (strace); writes into cached chunks flush nothing", async (t) => {
  const strace = spawnSync('strace', ['-V'], { stdio: 'ignore' });
  if (strace.error || strace.status !== 0) return t.skip('strace is not installed (apt-get install strace)');
  const folders = await newFolders();
  const trace = join(folders.cacheFolder, '..', 'trace.txt');
  const child = join(import.meta.dirname, '..', 'helpers', 'cache-writer-order-child.ts');
  const run = spawnSync(
    'strace',
    [
      '-f',
      '-y',
      '-s',
      '32',
      '-e',
      'trace=pwrite64,pwritev,fdatasync,write,writev',
      '-o',
      trace,
      process.execPath,
      child,
      JSON.stringify(folders),
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  try {
    assert.equal(run.status, 0, `the traced writer failed: ${run.stderr}`);
    const events = parseTrace(await readFile(trace, 'utf8'));
    const steps = new Map<string, Traced[]>();
    let step: string | null = null;
    for (const event of events) {
      if (event.startsWith('step ')) steps.set((step = event.slice(5)), []);
      else if (step !== null && !(event === 'cache write' && steps.get(step)?.at(-1) === 'cache write')) steps.get(step)?.push(event);
    }
    assert.equal(ORDER_STEPS.length, 4);
    // 0: a new chunk, unstable: its bytes, their flush, then the record; no map flush.
    assert.deepEqual(steps.get('0'), ['cache write', 'cache sync', 'map write']);
    // 1: the same chunk again: the bytes, nothing flushed, no record.
    assert.deepEqual(steps.get('1'), ['cache write']);
    // 2: two new chunks, DATA_SYNC: bytes, their flush, records, the map's flush; the bytes not flushed twice.
    assert.deepEqual(steps.get('2'), ['cache write', 'cache sync', 'map write', 'map sync']);
    // 3: a cached chunk, FILE_SYNC: bytes, then both flushed.
    assert.deepEqual(steps.get('3'), ['cache write', 'cache sync', 'map sync']);
  } finally {
    await rm(join(folders.cacheFolder, '..'), { recursive: true, force: true });
  }
});
