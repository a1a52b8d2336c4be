// Disks read where they lie on a vSphere datastore (the NBD transport of a backup): qemu-img's
// images and snapshot chains are put into a vcsim datastore's folder, opened over the host's
// HTTP file service with ranged GETs, and must read byte for byte as the same files opened
// locally (and as qemu-img converts them). A file that goes away, a parent outside the VM
// folder, and a file service that answers a range wrongly (a loopback proxy in front of vcsim
// damages real answers) are each one clear LifeboatError.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import type { Disk } from '../../electron/disks/disk.ts';
import { openDiskChain, type OpenedChain } from '../../electron/disks/vmdk-chain.ts';
import { openDatastoreDisk } from '../../electron/drivers/vsphere/datastore-disk.ts';
import { VsphereClient } from '../../electron/drivers/vsphere/vsphere-client.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { qemuImg, tempDir } from '../helpers/env.ts';
import { listenOnLoopback } from '../helpers/loopback-server.ts';
import { startVcsim, vcsimUnavailable } from '../helpers/vcsim.ts';
import {
  baseVm,
  cidOf,
  editDescriptor,
  qemuIo,
  setDescriptorKey,
  snapshot,
  type Subformat,
  writeCowdDelta,
  writeSeSparseDelta,
} from '../helpers/vmdk-chain.ts';

const MIB = 1024 * 1024;
const DATACENTER = 'DC0';
const DATASTORE = 'LocalDS_0';
const missing = vcsimUnavailable();

const vc = missing ? null : await startVcsim();
const client = vc ? await VsphereClient.connect({ url: new URL(vc.url), insecure: true }, vc.user, vc.password) : null;
after(() => client?.logout());
const datastoreFolder = vc ? (vc.datastores[DATASTORE] as string) : '';

/** Reads a whole disk in pieces of `piece` bytes (an odd size, so reads straddle grains and extents). */
async function readAll(disk: Disk, piece: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < disk.capacity; offset += piece)
    parts.push(await disk.read(offset, Math.min(piece, disk.capacity - offset)));
  return Buffer.concat(parts);
}

/** Opens `leaf` of VM folder `folder` (inside the datastore) both ways and checks they agree, and
 * with qemu-img unless the chain names its parent by an ESXi path (qemu cannot follow those). */
async function compareBothWays(folder: string, leaf: string, options: { qemu: boolean } = { qemu: true }): Promise<OpenedChain> {
  const local = await openDiskChain(join(datastoreFolder, folder, leaf));
  const remote = await openDatastoreDisk(client as VsphereClient, {
    datacenter: DATACENTER,
    datastore: DATASTORE,
    path: `${folder}/${leaf}`,
  });
  try {
    assert.equal(remote.disk.capacity, local.disk.capacity);
    assert.equal(remote.format, local.format);
    assert.deepEqual(remote.chain, local.chain);
    assert.deepEqual(
      remote.files,
      local.files.map((file) => `[${DATASTORE}] ${file.slice(datastoreFolder.length + 1)}`),
    );
    const expected = await readAll(local.disk, 3 * MIB + 4096);
    if (options.qemu) {
      const converted = join(await tempDir(), 'converted.raw');
      qemuImg('convert', '-O', 'raw', join(datastoreFolder, folder, leaf), converted);
      assert.ok((await readFile(converted)).equals(expected), 'local read equals qemu-img');
    }
    assert.ok((await readAll(remote.disk, 3 * MIB + 4096)).equals(expected), 'datastore read equals local read');
    assert.ok((await readAll(remote.disk, 2 * MIB)).equals(expected), 'in backup-sized pieces too');
    return remote;
  } finally {
    await local.disk.close();
    await remote.disk.close();
  }
}

/** A fresh VM folder inside the datastore with base disk web.vmdk of `subformat`. */
function vmFolder(name: string, subformat: Subformat, mib = 8): Promise<string> {
  return baseVm(datastoreFolder, name, subformat, mib, 3);
}

test(
  'flat, sparse and streamOptimized disks read over the file service are the local ones byte for byte',
  { skip: missing ?? false },
  async () => {
    for (const subformat of ['monolithicFlat', 'monolithicSparse', 'streamOptimized', 'twoGbMaxExtentFlat'] as const) {
      await vmFolder(`single-${subformat}`, subformat, 9);
      const opened = await compareBothWays(`single-${subformat}`, 'web.vmdk');
      assert.equal(opened.chain.length, 1);
    }
  },
);

test('a flat disk over the file service says nothing of holes: every byte is data', { skip: missing ?? false }, async () => {
  await vmFolder('holes', 'monolithicFlat');
  const remote = await openDatastoreDisk(client as VsphereClient, { datacenter: DATACENTER, datastore: DATASTORE, path: 'holes/web.vmdk' });
  try {
    assert.deepEqual(await remote.disk.extents?.(0, remote.disk.capacity), [{ offset: 0, length: remote.disk.capacity, state: 'data' }]);
  } finally {
    await remote.disk.close();
  }
});

test(
  'snapshot chains (hosted sparse deltas, a COWD delta, an seSparse delta) read as the VM sees them',
  { skip: missing ?? false },
  async () => {
    const hosted = await vmFolder('chain-hosted', 'monolithicFlat');
    snapshot(hosted, 'web.vmdk', 'web-000001.vmdk', 'monolithicSparse');
    qemuIo(join(hosted, 'web-000001.vmdk'), 'write -P 0x61 1M 300k', 'write -z 4M 64k', 'write -P 0x62 8388096 512');
    snapshot(hosted, 'web-000001.vmdk', 'web-000002.vmdk', 'monolithicSparse');
    qemuIo(join(hosted, 'web-000002.vmdk'), 'write -P 0x63 1100k 64k');
    const chain = await compareBothWays('chain-hosted', 'web-000002.vmdk');
    assert.deepEqual(
      chain.chain.map((link) => link.fileName),
      ['web-000002.vmdk', 'web-000001.vmdk', 'web.vmdk'],
    );

    const cowd = await vmFolder('chain-cowd', 'monolithicSparse');
    await writeCowdDelta(cowd, 'web-000001', {
      capacity: 8 * MIB,
      parentHint: '/vmfs/volumes/5f0c-aa/chain-cowd/web.vmdk',
      parentCid: await cidOf(join(cowd, 'web.vmdk')),
      writes: [
        { offset: 512, data: Buffer.alloc(1536, 0x41) },
        { offset: 3 * MIB, data: Buffer.alloc(8192) },
        { offset: 8 * MIB - 512, data: Buffer.alloc(512, 0x42) },
      ],
    });
    await compareBothWays('chain-cowd', 'web-000001.vmdk', { qemu: false });

    const seSparse = await vmFolder('chain-sesparse', 'monolithicFlat', 24);
    await writeSeSparseDelta(seSparse, 'web-000001', {
      capacity: 24 * MIB,
      parentHint: 'web.vmdk',
      parentCid: await cidOf(join(seSparse, 'web.vmdk')),
      writes: [
        { offset: 4096, data: Buffer.alloc(8192, 0x77) },
        { offset: 5 * MIB, data: Buffer.alloc(2 * MIB, 0x78) },
      ],
      zeroed: [2 * MIB],
    });
    await compareBothWays('chain-sesparse', 'web-000001.vmdk');
  },
);

test('missing files and a parent outside the VM folder are clear errors', { skip: missing ?? false }, async () => {
  const where = (path: string) => ({ datacenter: DATACENTER, datastore: DATASTORE, path });
  const open = (path: string) => openDatastoreDisk(client as VsphereClient, where(path));
  await assert.rejects(open('nowhere/web.vmdk'), { code: 'invalid-source', message: /\[LocalDS_0\] nowhere\/web\.vmdk does not exist/ });

  const noExtent = await vmFolder('no-extent', 'monolithicFlat');
  await rm(join(noExtent, 'web-flat.vmdk'));
  await assert.rejects(open('no-extent/web.vmdk'), { code: 'invalid-source', message: /extent file web-flat\.vmdk is missing/ });

  // A parent one folder up: another VM's disk, which a backup of this one must not read.
  const other = await vmFolder('other-vm', 'monolithicSparse');
  const outside = join(datastoreFolder, 'outside');
  await mkdir(outside);
  snapshot(outside, '../other-vm/web.vmdk', 'web-000001.vmdk', 'monolithicSparse');
  await assert.rejects(open('outside/web-000001.vmdk'), {
    code: 'invalid-source',
    message: /parent disk "\.\.\/other-vm\/web\.vmdk" is \[LocalDS_0\] other-vm\/web\.vmdk, outside the VM folder/,
  });
  await assert.rejects(open('../other-vm/web.vmdk'), { code: 'invalid-source', message: /lies outside datastore LocalDS_0/ });

  // A broken chain: the parent the delta names is gone.
  await editDescriptor(join(outside, 'web-000001.vmdk'), setDescriptorKey('parentFileNameHint', '"web.vmdk"'));
  await assert.rejects(open('outside/web-000001.vmdk'), { code: 'invalid-source', message: /parent disk "web\.vmdk" is missing/ });

  // A file that disappears while it is read (the snapshot was removed under the backup).
  const opened = await open('other-vm/web.vmdk');
  try {
    await rename(join(other, 'web.vmdk'), join(other, 'gone.vmdk'));
    await assert.rejects(opened.disk.read(0, 4 * MIB), (error: unknown) => {
      assert.ok(error instanceof LifeboatError);
      assert.equal(error.code, 'not-found');
      assert.match(error.message, /\[LocalDS_0\] other-vm\/web\.vmdk at offset \d+/);
      return true;
    });
  } finally {
    await opened.disk.close();
  }
});

/** `dropAfter`: the connection is cut after that many bytes of the body (the header promised all of it). */
type Answer = { status: number; headers: Record<string, string>; body: Buffer; dropAfter?: number };
type Damage = (answer: Answer) => Answer;

/** A loopback proxy in front of vcsim that passes SOAP through and damages ranged GETs' answers. */
async function startDamagingProxy(
  upstream: string,
): Promise<{ url: string; setDamage(damage: Damage | null): void; refuseHead(refuse: boolean): void; rangedGets(): number }> {
  const target = new URL(upstream);
  let damage: Damage | null = null;
  let refuseHead = false;
  let rangedGets = 0;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method === 'GET' && request.headers.range) rangedGets++;
      if (request.method === 'HEAD' && refuseHead) {
        response.writeHead(405).end();
        return;
      }
      const forward = httpsRequest(
        {
          hostname: target.hostname,
          port: target.port,
          path: request.url,
          method: request.method,
          headers: request.headers,
          rejectUnauthorized: false,
        },
        (upstreamResponse) => {
          const parts: Buffer[] = [];
          upstreamResponse.on('data', (chunk: Buffer) => parts.push(chunk));
          upstreamResponse.on('end', () => {
            const headers: Record<string, string> = {};
            for (const [key, value] of Object.entries(upstreamResponse.headers)) if (typeof value === 'string') headers[key] = value;
            if (upstreamResponse.headers['set-cookie']) headers['set-cookie'] = upstreamResponse.headers['set-cookie'].join(', ');
            let answer: Answer = { status: upstreamResponse.statusCode ?? 502, headers, body: Buffer.concat(parts) };
            if (damage && request.method === 'GET' && request.headers.range) answer = damage(answer);
            delete answer.headers['transfer-encoding'];
            if (request.method !== 'HEAD') answer.headers['content-length'] = String(answer.body.length);
            if (answer.dropAfter === undefined) response.writeHead(answer.status, answer.headers).end(answer.body);
            else {
              response.writeHead(answer.status, answer.headers).write(answer.body.subarray(0, answer.dropAfter));
              response.socket?.destroy();
            }
          });
        },
      );
      forward.on('error', () => response.writeHead(502).end());
      forward.end(Buffer.concat(chunks));
    });
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}/sdk`,
    setDamage: (next) => (damage = next),
    refuseHead: (refuse) => (refuseHead = refuse),
    rangedGets: () => rangedGets,
  };
}

test('a file service that answers a range wrongly is one clear error, never shifted bytes', { skip: missing ?? false }, async () => {
  const sim = vc as NonNullable<typeof vc>;
  const proxy = await startDamagingProxy(sim.url);
  const damaged = await VsphereClient.connect({ url: new URL(proxy.url), insecure: false }, sim.user, sim.password);
  after(() => damaged.logout());
  await vmFolder('ranges', 'monolithicFlat', 4);
  const path = 'ranges/web-flat.vmdk';
  const truth = await readFile(join(datastoreFolder, path));
  const read = (offset: number, length: number) => damaged.readRange(DATACENTER, DATASTORE, path, offset, length);

  assert.ok((await read(MIB + 17, 70_000)).equals(truth.subarray(MIB + 17, MIB + 17 + 70_000)), 'an undamaged answer passes');
  assert.equal(await damaged.fileSize(DATACENTER, DATASTORE, path), truth.length);
  // A host that does not answer HEAD: the size is the total a one-byte range reports (0 for an empty file).
  await writeFile(join(datastoreFolder, 'ranges', 'empty.log'), '');
  proxy.refuseHead(true);
  assert.equal(await damaged.fileSize(DATACENTER, DATASTORE, path), truth.length);
  assert.equal(await damaged.fileSize(DATACENTER, DATASTORE, 'ranges/empty.log'), 0);
  await assert.rejects(damaged.fileSize(DATACENTER, DATASTORE, 'ranges/nothing.vmdk'), {
    code: 'not-found',
    message: /\[LocalDS_0\] ranges\/nothing\.vmdk/,
  });
  proxy.refuseHead(false);

  const cases: [string, Damage, RegExp][] = [
    ['a short body', (answer) => ({ ...answer, body: answer.body.subarray(0, answer.body.length - 1) }), /holds 69999 bytes/],
    [
      'a wrong Content-Range',
      (answer) => ({ ...answer, headers: { ...answer.headers, 'content-range': `bytes 0-69999/${truth.length}` } }),
      /sent bytes 0-69999 instead/,
    ],
    [
      'no Content-Range',
      (answer) => ({ ...answer, headers: { ...answer.headers, 'content-range': 'bytes=1-2' } }),
      /no usable Content-Range/,
    ],
    ['the whole file for a range', () => ({ status: 200, headers: {}, body: truth }), /more than 70000 bytes|ignored the range/],
    ['a connection dropped midway', (answer) => ({ ...answer, dropAfter: 30_000 }), /failed: .*(ECONNRESET|aborted|socket hang up)/],
    ['a server error', () => ({ status: 503, headers: {}, body: Buffer.from('busy') }), /HTTP 503/],
    [
      'a range past the end',
      () => ({ status: 416, headers: { 'content-range': `bytes */${truth.length}` }, body: Buffer.alloc(0) }),
      /HTTP 416/,
    ],
  ];
  for (const [what, damage, why] of cases) {
    proxy.setDamage(damage);
    await assert.rejects(read(MIB + 17, 70_000), (error: unknown) => {
      assert.ok(error instanceof LifeboatError, `${what}: ${String(error)}`);
      assert.equal(error.code, 'unavailable', what);
      assert.match(error.message, /\[LocalDS_0\] ranges\/web-flat\.vmdk/, what);
      assert.match(error.message, why, what);
      return true;
    });
  }

  // Random damage to real answers: the bytes asked for exactly, or one LifeboatError.
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: truth.length - 1 }),
      fc.integer({ min: 1, max: 256 * 1024 }),
      fc.record({
        cut: fc.option(fc.nat({ max: 300_000 })),
        shift: fc.option(fc.integer({ min: -4096, max: 4096 })),
        status: fc.option(fc.constantFrom(200, 204, 206, 301, 404, 416, 500)),
        header: fc.option(fc.string({ maxLength: 40 })),
      }),
      async (offset, wanted, change) => {
        const length = Math.min(wanted, truth.length - offset);
        proxy.setDamage((answer) => {
          const headers = { ...answer.headers };
          const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(headers['content-range'] ?? '');
          if (change.shift !== null && range)
            headers['content-range'] = `bytes ${Number(range[1]) + change.shift}-${Number(range[2]) + change.shift}/${range[3]}`;
          if (change.header !== null) headers['content-range'] = change.header.replace(/[^\x20-\x7e]/g, '');
          const body = change.cut === null ? answer.body : answer.body.subarray(0, change.cut);
          return { status: change.status ?? answer.status, headers, body };
        });
        try {
          const bytes = await read(offset, length);
          assert.ok(bytes.equals(truth.subarray(offset, offset + length)));
        } catch (error) {
          assert.ok(error instanceof LifeboatError, String(error));
        }
      },
    ),
    { numRuns: 150 },
  );
  proxy.setDamage(null);
});

test('a delta whose grains lie scattered in its file is read with few GETs, not one per grain', { skip: missing ?? false }, async () => {
  const sim = vc as NonNullable<typeof vc>;
  const proxy = await startDamagingProxy(sim.url);
  const counted = await VsphereClient.connect({ url: new URL(proxy.url), insecure: false }, sim.user, sim.password);
  after(() => counted.logout());
  const folder = await vmFolder('scattered', 'monolithicFlat', 8);
  // 512 grains of 4 KiB, stored in the reverse order of their place on the disk.
  await writeSeSparseDelta(folder, 'web-000001', {
    capacity: 8 * MIB,
    parentHint: 'web.vmdk',
    parentCid: await cidOf(join(folder, 'web.vmdk')),
    writes: [{ offset: 3 * MIB, data: Buffer.alloc(2 * MIB, 0x5a) }],
  });
  const local = await openDiskChain(join(folder, 'web-000001.vmdk'));
  const remote = await openDatastoreDisk(counted, { datacenter: DATACENTER, datastore: DATASTORE, path: 'scattered/web-000001.vmdk' });
  try {
    const before = proxy.rangedGets();
    assert.ok((await readAll(remote.disk, 2 * MIB)).equals(await readAll(local.disk, 2 * MIB)));
    const gets = proxy.rangedGets() - before;
    assert.ok(gets < 40, `${gets} ranged GETs to read an 8 MiB disk whose delta holds 512 scattered grains`);
  } finally {
    await local.disk.close();
    await remote.disk.close();
  }
});
