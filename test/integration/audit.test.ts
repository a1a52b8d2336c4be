// The audit log is append-only and hash-chained: SQL updates are refused, and an entry changed or
// removed behind the engine's back is found by `audit verify`.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { Engine } from '../../electron/engine/engine.ts';
import { makeVmFolder, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

async function auditedHome(): Promise<string> {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const source = join(dir, 'source');
  await mkdir(source);
  await writeMixedRaw(join(dir, 'disk.raw'), 4);
  await makeVmFolder(source, 'audited', join(dir, 'disk.raw'), 'monolithicFlat');
  const engine = await Engine.open({ home, workerThreads: 2 });
  try {
    await runJob(engine, await engine.startBackup(source, 'alice'));
    await runJob(engine, await engine.startVerify('audited', undefined, 'bob'));
    await runJob(engine, await engine.startRestore({ vm: 'audited', point: 'latest', target: { kind: 'local', path: join(dir, 'out') } }, 'alice'));
    assert.deepEqual(engine.catalog.auditEntries().map((entry) => [entry.actor, entry.action]).reverse(), [['alice', 'backup.start'], ['alice', 'files.index'], ['bob', 'verify.start'], ['alice', 'restore.entireVm']]);
    assert.deepEqual(engine.catalog.verifyAudit(), { entries: 4, intact: true, problem: null });
  } finally {
    await engine.close();
  }
  return home;
}

async function verifyAfter(home: string, tamper: (db: Database.Database) => void): Promise<ReturnType<Engine['catalog']['verifyAudit']>> {
  const db = new Database(join(home, 'catalog.sqlite'));
  assert.throws(() => db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE id = 2").run(), /append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit_log WHERE id = 2').run(), /append-only/);
  db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
  tamper(db);
  db.close();
  const engine = await Engine.open({ home, workerThreads: 2 });
  try {
    return engine.catalog.verifyAudit();
  } finally {
    await engine.close();
  }
}

test('an audit entry changed behind the engine is found', async () => {
  const result = await verifyAfter(await auditedHome(), (db) => db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE id = 3").run());
  assert.equal(result.intact, false);
  assert.match(result.problem ?? '', /entry 3 \(verify\.start\) was changed after it was written/);
});

test('an audit entry removed behind the engine is found', async () => {
  const result = await verifyAfter(await auditedHome(), (db) => db.prepare('DELETE FROM audit_log WHERE id = 1').run());
  assert.equal(result.intact, false);
  assert.match(result.problem ?? '', /entry 2 \(files\.index\) does not follow the entry before it/);
});
