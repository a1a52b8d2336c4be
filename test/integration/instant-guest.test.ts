// A real guest runs from an Instant Recovery export: QEMU (its NFS block driver is libnfs, a real
// NFS v3 client that finds MOUNT and NFS through the portmapper on 111) boots Debian's kernel with
// a small ext4 root disk served by the engine from the backup. The guest checks its files, writes
// in parallel (odd sizes, O_DIRECT, fallocate, fstrim, ext4 lazyinit's zeroing), writes the disk's
// last sectors raw, and powers off; no
// kernel I/O error may appear. Afterwards the backup still verifies, the guest's files are in the
// session's cache, and a quick migration carries them to the production disk.
import assert from 'node:assert/strict';
import { mkdir, open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { inProcessApi } from '../../electron/cli/connect.ts';
import { VM_FOLDER_ID, type OverlayVolume } from '../../electron/nfs/volume.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import type { InstantSession } from '../../shared/domain.ts';
import { makeVmFolder, runJob, tempDir } from '../helpers/env.ts';
import {
  bootGuest,
  buildGuestDisk,
  describeRun,
  guestUnavailable,
  hasMarker,
  hashesInImage,
  portsUnavailable,
  saveFailure,
} from '../helpers/guest.ts';
import { withNfsPorts } from '../helpers/port-lock.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';

const MIB = 1024 * 1024;
const VM = 'guest-01';
const skip = guestUnavailable() ?? vcsimUnavailable() ?? portsUnavailable() ?? false;

/** The session's disk as the guest left it, read through the engine's volume into a raw file. */
async function copyVolumeDisk(volume: OverlayVolume, file: string, target: string): Promise<void> {
  const id = volume.lookup(VM_FOLDER_ID, file);
  const size = volume.attr(id).size;
  const out = await open(target, 'w');
  try {
    for (let offset = 0; offset < size; offset += MIB) {
      const { data } = await volume.read(id, offset, Math.min(MIB, size - offset));
      await out.write(data, 0, data.length, offset);
    }
    await out.truncate(size);
  } finally {
    await out.close();
  }
}

test(
  'a real guest boots from the Instant Recovery export, writes with no I/O error, and its writes reach the cache and the migrated disk',
  { skip },
  async () => {
    const dir = await tempDir();
    const home = join(dir, 'home');
    await mkdir(join(home, 'instant'), { recursive: true });
    // 514 MiB + 15 sectors: not a multiple of 4 KiB, 64 KiB or the backup's 1 MiB block; the guest
    // writes the 2 MiB + 15 sectors after its 512 MiB file system raw, up to the last sector.
    const disk = await buildGuestDisk(join(dir, 'build'), {
      workload: { kind: 'basic' },
      sizeBytes: 514 * MIB + 7680,
      tailBytes: 2 * MIB + 7680,
    });
    const folder = join(dir, VM);
    await mkdir(folder);
    await makeVmFolder(folder, VM, disk.raw, 'monolithicFlat');
    const vc = await startVcsim({ cwd: join(home, 'instant') });
    const production = vc.datastores.LocalDS_1 as string;

    await withNfsPorts(async () => {
      const engine = await openServedEngine({ home, workerThreads: 2 });
      try {
        const api = inProcessApi(engine);
        assert.equal((await runJob(engine, await engine.backups.start(folder, 'test'))).state, 'succeeded');
        await api.invoke('hosts.add', { kind: 'vsphere', name: 'vc', url: vc.url, user: vc.user, password: vc.password, insecure: true });
        await api.invoke('proxies.add', { name: 'san-ir', host: 'vc', transports: ['san'], datastorePaths: { LocalDS_1: production } });

        const { job, session: asked } = await api.invoke('instant.start', {
          vm: VM,
          host: 'vc',
          listen: '127.0.0.1:2049',
          allow: ['127.0.0.1'],
        });
        const started = await runJob(engine, job);
        assert.equal(started.state, 'succeeded', started.error ?? '');
        const session = (await api.invoke('instant.list', {})).find((listed) => listed.id === asked.id) as InstantSession;
        assert.match(session.nfsUrl, /^nfs:\/\/127\.0\.0\.1\/[^?]+$/, 'on 2049: no ports in the URL, the client asks the portmapper');

        const drive = `${session.nfsUrl}/${VM}/${VM}-flat.vmdk`;
        const run = await bootGuest({ drive, timeoutMs: 150_000, append: disk.append });
        if (run.errors.length > 0 || !hasMarker(run, 'end')) {
          const saved = await saveFailure('instant-guest', run, disk, drive);
          console.log(`guest failure saved in ${saved}`);
        }
        assert.deepEqual(run.errors, [], `the guest saw no I/O error\n${describeRun(run)}`);
        for (const marker of ['booted', 'hashes-ok', 'writes-done', 'tail-ok', 'end'])
          assert.ok(hasMarker(run, marker), `the guest printed "${marker}"\n${describeRun(run)}`);
        assert.equal(run.exit.code, 0, `QEMU ended with the guest's poweroff\n${describeRun(run)}`);
        const wrote = run.wrote;
        const names = Object.keys(wrote);
        assert.ok(names.length >= 30, `the guest listed what it wrote (${names.length} files)`);
        console.log(
          `guest from the export: booted at ${run.markers[0]?.atMs} ms, ended at ${run.durationMs} ms, ${names.length} files written`,
        );

        assert.equal(
          (await runJob(engine, await engine.verifies.start(VM, 'latest', 'test'))).state,
          'succeeded',
          'every block of the backup still hashes right',
        );

        const volume = engine.instant.volumeOf(session.id);
        assert.ok(volume, 'the session serves its volume');
        const cached = join(dir, 'session-disk.raw');
        await copyVolumeDisk(volume, `${VM}-flat.vmdk`, cached);
        assert.deepEqual(
          await hashesInImage(cached, '/out', names, join(dir, 'from-cache')),
          wrote,
          "the session's disk holds the guest's files",
        );
        assert.deepEqual(
          await hashesInImage(cached, '/data', Object.keys(disk.data), join(dir, 'data-from-cache')),
          disk.data,
          "the backup's files are intact",
        );

        const migrate = await runJob(
          engine,
          (await api.invoke('instant.migrate', { sessionId: session.id, datastore: 'LocalDS_1', transport: 'san' })).job,
        );
        assert.equal(migrate.state, 'succeeded', migrate.error ?? '');
        const copy = String(migrate.result?.copy);
        const migrated = join(production, copy, `${copy}-flat.vmdk`);
        assert.deepEqual(
          await hashesInImage(migrated, '/out', names, join(dir, 'from-migrated')),
          wrote,
          "the migrated disk holds the guest's files",
        );
        assert.equal((await stat(migrated)).size, disk.sizeBytes, 'the migrated disk has the size of the original, to the sector');
        const ended = (await api.invoke('instant.list', {})).find((listed) => listed.id === session.id);
        assert.equal(ended?.state, 'migrated');
      } finally {
        await engine.close();
      }
    });
  },
);
