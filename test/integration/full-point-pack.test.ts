// A full point's pieces are scanned and stored in one worker message each: it restores identical,
// plain and encrypted; blocks equal to another of the same point (in the same piece, or in another
// piece in flight at the same time) are stored once and referenced; zero blocks are holes; every
// record carries its block's SHA-256.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Engine } from '../../electron/engine/engine.ts';
import { decodeMapFile, type BlockRecord } from '../../electron/repository/block-map.ts';
import { blockCountOf } from '../../electron/repository/chain.ts';
import { makeVmFolder, openEngine, runJob, tempDir } from '../helpers/env.ts';

const BLOCK = 64 * 1024;
/** Three and a half 2 MiB pieces and a short last block. */
const FULL_BLOCKS = 112;
const CAPACITY = FULL_BLOCKS * BLOCK + 4096;
const PASSWORD = 'correct horse battery staple';
/** Duplicates: [copy, original]; one within a piece, one across pieces. */
const COPIES = [
  [5, 1],
  [70, 2],
] as const;

/** Random (stored as it is), text (compressed) and zero blocks; no two equal but the copies. */
function diskBytes(): Buffer {
  const raw = Buffer.alloc(CAPACITY);
  for (let block = 0; block < FULL_BLOCKS; block++) {
    const at = block * BLOCK;
    if (block % 5 === 4) continue;
    if (block % 5 === 1) randomBytes(BLOCK).copy(raw, at);
    else raw.fill(`block ${block} of the guest, log text `, at, at + BLOCK);
  }
  for (const [copy, original] of COPIES) raw.copy(raw, copy * BLOCK, original * BLOCK, (original + 1) * BLOCK);
  randomBytes(4096).copy(raw, FULL_BLOCKS * BLOCK);
  return raw;
}

async function pointRecords(engine: Engine, vmId: string): Promise<{ records: BlockRecord[]; dataBytes: number }> {
  const [entry] = await engine.repository.scanPoints(vmId);
  assert.ok(entry?.manifest, `the point is there and healthy (${entry?.damage})`);
  const folder = engine.repository.pointFolder(entry.manifest);
  const disk = entry.manifest.disks[0];
  assert.ok(disk);
  const records = decodeMapFile(await readFile(join(folder, disk.mapFile)), {
    blockSize: BLOCK,
    blockCount: blockCountOf(CAPACITY, BLOCK),
    sha256: disk.mapSha256,
    label: 'the full point',
  });
  return { records, dataBytes: (await stat(join(folder, 'data.lbd'))).size };
}

async function fullPoint(password: string | null): Promise<void> {
  const dir = await tempDir();
  const engine = await openEngine(join(dir, 'home'), BLOCK);
  const source = join(dir, 'source');
  await mkdir(source);
  const raw = join(dir, 'disk.raw');
  const bytes = diskBytes();
  await writeFile(raw, bytes);
  await makeVmFolder(source, 'alpha', raw, 'monolithicFlat');
  const encryption = password ? { encrypt: true, password } : { encrypt: false };
  const backup = await runJob(engine, await engine.backups.start(source, 'test', encryption));
  assert.equal(backup.state, 'succeeded', backup.error ?? '');
  assert.equal(backup.result?.dedupedBlocks, COPIES.length, 'each copy is referenced, not stored again');

  const { records, dataBytes } = await pointRecords(engine, engine.lookup.resolveVm('alpha').id);
  const blockOf = (index: number): Buffer => bytes.subarray(index * BLOCK, Math.min(CAPACITY, (index + 1) * BLOCK));
  const nonZero = Array.from({ length: FULL_BLOCKS + 1 }, (_, index) => index).filter((index) => blockOf(index).some((byte) => byte));
  assert.deepEqual(
    records.map((record) => record.index),
    nonZero,
    'a record for every non-zero block, none for zero ones',
  );
  for (const record of records)
    assert.ok(createHash('sha256').update(blockOf(record.index)).digest().equals(record.sha256), `block ${record.index}'s SHA-256`);
  const at = (index: number): BlockRecord | undefined => records.find((record) => record.index === index);
  for (const [copy, original] of COPIES) {
    assert.equal(at(copy)?.offset, at(original)?.offset, `block ${copy} points at block ${original}'s bytes`);
    assert.equal(at(copy)?.storedLength, at(original)?.storedLength);
  }
  const stored = new Map(records.map((record) => [record.offset, record.storedLength]));
  assert.equal(stored.size, records.length - COPIES.length, 'each distinct block is stored once');
  assert.equal(
    dataBytes,
    [...stored.values()].reduce((sum, length) => sum + length, 0),
    'the data file holds those blocks and nothing else',
  );
  if (password)
    assert.ok(
      records.every((record) => record.codec & 0x80),
      'every block is sealed',
    );
  else
    assert.ok(records.some((record) => record.codec === 0) && records.some((record) => record.codec !== 0), 'kept and compressed blocks');

  const target = join(dir, 'restored');
  const restore = await runJob(
    engine,
    await engine.restores.start(
      { vm: 'alpha', point: 'latest', target: { kind: 'local', path: target }, ...(password ? { password } : {}) },
      'test',
    ),
  );
  assert.equal(restore.state, 'succeeded', restore.error ?? '');
  assert.ok((await readFile(join(target, 'alpha-flat.vmdk'))).equals(bytes), 'the restored disk is the source');
}

test('a full point stored piece by piece in one message restores identical and stores equal blocks once', () => fullPoint(null));

test('an encrypted full point likewise: every block sealed, equal blocks stored once, restores identical', () => fullPoint(PASSWORD));
