// Incrementals that tell unchanged blocks by the parent's fast-hash sidecar find every change (first
// block, last short block, a block become zero, a block become equal to another stored one), and
// make the same point when the sidecar is missing, damaged, or the parent predates sidecars.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { Engine } from '../../electron/engine/engine.ts';
import { decodeMapFile } from '../../electron/repository/block-map.ts';
import { blockCountOf } from '../../electron/repository/chain.ts';
import { decodeFastHashFile } from '../../electron/repository/fast-hash-map.ts';
import type { Manifest } from '../../electron/repository/manifest.ts';
import { MANIFEST_HASH_FILE, manifestSha256 } from '../../electron/repository/manifest-seal.ts';
import { makeVmFolder, openEngine, runJob, tempDir } from '../helpers/env.ts';

const BLOCK = 64 * 1024;
const FULL_BLOCKS = 16;
/** 16 whole blocks and a short 17th. */
const CAPACITY = FULL_BLOCKS * BLOCK + 4096;
const LAST = FULL_BLOCKS;
const BECOMES_ZERO = 5;
const BECOMES_COPY = 9;
const COPIED_FROM = 6;

type Parent = 'intact' | 'missing' | 'damaged' | 'made before sidecars';

/** Blocks: every 4th from 3 zero, every 4th from 1 random, the others repeated text; no two equal. */
function firstGeneration(): Buffer {
  const raw = Buffer.alloc(CAPACITY);
  for (let block = 0; block < FULL_BLOCKS; block++) {
    const at = block * BLOCK;
    if (block % 4 === 3) continue;
    if (block % 4 === 1) randomBytes(BLOCK).copy(raw, at);
    else raw.fill(`block ${block} `, at, at + BLOCK);
  }
  randomBytes(4096).copy(raw, LAST * BLOCK);
  return raw;
}

function secondGeneration(first: Buffer): Buffer {
  const raw = Buffer.from(first);
  raw[17] = (raw[17] as number) ^ 1; // first block
  raw[CAPACITY - 1] = (raw[CAPACITY - 1] as number) ^ 1; // last, short block
  raw.fill(0, BECOMES_ZERO * BLOCK, (BECOMES_ZERO + 1) * BLOCK); // was random data
  raw.copy(raw, BECOMES_COPY * BLOCK, COPIED_FROM * BLOCK, (COPIED_FROM + 1) * BLOCK); // dedup against point 1
  return raw;
}

async function pointManifest(engine: Engine, vmId: string, sequence: number): Promise<{ folder: string; manifest: Manifest }> {
  const entry = (await engine.repository.scanPoints(vmId)).find((point) => point.sequence === sequence);
  assert.ok(entry?.manifest, `point ${sequence} is there and healthy (${entry?.damage})`);
  return { folder: engine.repository.pointFolder(entry.manifest), manifest: entry.manifest };
}

/** Point 1 from the first generation, its sidecar treated as `parent` says, point 2 from the second:
 * point 2's own map (what changed), its job's log, and whether its restore is the second generation. */
async function incrementalAfter(parent: Parent): Promise<{ changes: string[]; log: string[]; restored: boolean }> {
  const dir = await tempDir();
  const home = join(dir, 'home');
  let engine = await openEngine(home, BLOCK);
  const source = join(dir, 'source');
  await mkdir(source);
  const raw = join(dir, 'disk.raw');
  const first = firstGeneration();
  await writeFile(raw, first);
  await makeVmFolder(source, 'alpha', raw, 'monolithicFlat');
  assert.equal((await runJob(engine, await engine.backups.start(source, 'test'))).state, 'succeeded');
  const vmId = engine.lookup.resolveVm('alpha').id;
  const { folder, manifest } = await pointManifest(engine, vmId, 1);
  const sidecar = manifest.disks[0]?.fastHashes;
  assert.ok(sidecar, 'a new point lists its disk sidecar');
  const hashes = decodeFastHashFile(await readFile(join(folder, sidecar.file)), {
    blockSize: BLOCK,
    blockCount: blockCountOf(CAPACITY, BLOCK),
    sha256: sidecar.sha256,
  });
  assert.equal(hashes.length, (FULL_BLOCKS + 1) * 16, 'the sidecar has a hash for every block');
  if (parent === 'missing') await rm(join(folder, sidecar.file));
  if (parent === 'damaged') {
    const file = await open(join(folder, sidecar.file), 'r+');
    await file.write(Buffer.from([0xff]), 0, 1, 40);
    await file.close();
  }
  if (parent === 'made before sidecars') {
    // As the previous version wrote it: no sidecar; its hash recorded in the side file and catalog.
    await rm(join(folder, sidecar.file));
    delete manifest.disks[0]?.fastHashes;
    await writeFile(join(folder, 'manifest.json'), JSON.stringify(manifest, null, 2));
    await writeFile(join(folder, MANIFEST_HASH_FILE), `${manifestSha256(manifest)}\n`);
    await engine.close();
    const db = new Database(join(home, 'catalog.sqlite'));
    db.prepare('UPDATE restore_points SET manifest_sha256 = ? WHERE sequence = 1').run(manifestSha256(manifest));
    db.close();
    engine = await openEngine(home, BLOCK);
  }
  const second = secondGeneration(first);
  await writeFile(raw, second);
  await makeVmFolder(source, 'alpha', raw, 'monolithicFlat');
  const job = await runJob(engine, await engine.backups.start(source, 'test'));
  assert.equal(job.state, 'succeeded', job.error ?? '');
  const log = engine.catalog.jobEvents(job.id).map((event) => event.message);

  const point2 = await pointManifest(engine, vmId, 2);
  const disk = point2.manifest.disks[0];
  assert.ok(disk);
  const records = decodeMapFile(await readFile(join(point2.folder, disk.mapFile)), {
    blockSize: BLOCK,
    blockCount: blockCountOf(CAPACITY, BLOCK),
    sha256: disk.mapSha256,
    label: 'point 2',
  });
  const blockOf = (index: number): Buffer => second.subarray(index * BLOCK, Math.min(CAPACITY, (index + 1) * BLOCK));
  const changes = records.map((record) => {
    if (record.kind === 0) return `${record.index} hole`;
    const sha256 = createHash('sha256').update(blockOf(record.index)).digest();
    return `${record.index} data in point ${record.dataFile}${sha256.equals(record.sha256) ? '' : ' WITH A WRONG SHA-256'}`;
  });
  const target = join(dir, 'restored');
  const restore = await runJob(
    engine,
    await engine.restores.start({ vm: 'alpha', point: '2', target: { kind: 'local', path: target } }, 'test'),
  );
  assert.equal(restore.state, 'succeeded', restore.error ?? '');
  const restored = (await readFile(join(target, 'alpha-flat.vmdk'))).equals(second);
  return { changes, log, restored };
}

test('an incremental with the parent sidecar finds a change in every position, and the same point without it', async () => {
  const intact = await incrementalAfter('intact');
  assert.ok(intact.restored, 'point 2 restores to the second generation');
  assert.deepEqual(
    intact.changes,
    ['0 data in point 2', `${BECOMES_ZERO} hole`, `${BECOMES_COPY} data in point 1`, `${LAST} data in point 2`],
    'first block, a block become zero, a block equal to a stored one (deduplicated), the last short block',
  );
  assert.ok(!intact.log.some((line) => line.includes('SHA-256 is taken')), 'the sidecar was used');

  for (const parent of ['missing', 'damaged', 'made before sidecars'] as const) {
    const without = await incrementalAfter(parent);
    assert.ok(without.restored, `${parent}: point 2 restores to the second generation`);
    assert.deepEqual(without.changes, intact.changes, `${parent}: the same changes are found`);
    assert.ok(
      without.log.some((line) => line.includes("every block's SHA-256 is taken")),
      `${parent}: the log says the fallback: ${without.log.join(' | ')}`,
    );
  }
});
