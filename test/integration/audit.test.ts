// The audit log is append-only and hash-chained: SQL updates are refused, and an entry changed or
// removed behind the engine's back is found by `audit verify`. Its head is anchored outside the
// table (audit/anchors.log, and each restore point's manifest), so rows cut off its end are
// found too, as is a missing anchor file.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { osCaller } from '../../electron/auth/peer.ts';
import { callContext } from '../../electron/rpc/dispatch.ts';
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';
import { makeVmFolder, runJob, tempDir, writeMixedRaw } from '../helpers/env.ts';

const cli = join(import.meta.dirname, '..', '..', 'electron', 'cli', 'main.ts');

/** A home with 5 entries: anchoring begun (1), backup (2), file index (3), verify (4), restore (5). */
async function auditedHome(): Promise<string> {
  const dir = await tempDir();
  const home = join(dir, 'home');
  const source = join(dir, 'source');
  await mkdir(source);
  await writeMixedRaw(join(dir, 'disk.raw'), 4);
  await makeVmFolder(source, 'audited', join(dir, 'disk.raw'), 'monolithicFlat');
  const engine = await openServedEngine({ home, workerThreads: 2 });
  try {
    await runJob(engine, await engine.backups.start(source, 'alice'));
    await runJob(engine, await engine.verifies.start('audited', undefined, 'bob'));
    await runJob(
      engine,
      await engine.restores.start({ vm: 'audited', point: 'latest', target: { kind: 'local', path: join(dir, 'out') } }, 'alice'),
    );
    assert.deepEqual(
      engine.catalog
        .auditEntries()
        .map((entry) => [entry.actor, entry.action])
        .reverse(),
      [
        ['engine', 'audit.anchored'],
        ['alice', 'backup.start'],
        ['alice', 'files.index'],
        ['bob', 'verify.start'],
        ['alice', 'restore.entireVm'],
      ],
    );
    assert.deepEqual(await engine.handlers['audit.verify']({}, callContext(osCaller())), { entries: 5, intact: true, problem: null });
  } finally {
    await engine.close();
  }
  return home;
}

// Built once (a backup, a verify and a restore); each test tampers with a copy of its own.
const pristine = await auditedHome();
async function homeCopy(): Promise<string> {
  const copy = join(await tempDir(), 'home');
  await cp(pristine, copy, { recursive: true });
  return copy;
}

const anchorsOf = (home: string) => join(home, 'audit', 'anchors.log');

async function verifyAfter(
  home: string,
  tamper: (db: Database.Database) => void,
): Promise<{ entries: number; intact: boolean; problem: string | null }> {
  const db = new Database(join(home, 'catalog.sqlite'));
  assert.throws(() => db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE id = 2").run(), /append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit_log WHERE id = 2').run(), /append-only/);
  db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
  tamper(db);
  db.close();
  return verifyNow(home);
}

async function verifyNow(home: string): Promise<{ entries: number; intact: boolean; problem: string | null }> {
  const engine = await openServedEngine({ home, workerThreads: 2 });
  try {
    return await engine.handlers['audit.verify']({}, callContext(osCaller()));
  } finally {
    await engine.close();
  }
}

test('each append is anchored: one line per entry, its id and hash, in a private file; the manifest holds the head', async () => {
  const home = await homeCopy();
  const lines = (await readFile(anchorsOf(home), 'utf8')).trimEnd().split('\n');
  assert.equal(lines.length, 5);
  const db = new Database(join(home, 'catalog.sqlite'), { readonly: true });
  const rows = db.prepare('SELECT id, hash, at FROM audit_log ORDER BY id').all() as { id: number; hash: string; at: string }[];
  db.close();
  assert.deepEqual(
    lines,
    rows.map((row) => `${row.id} ${row.hash} ${row.at}`),
  );
  assert.equal((await stat(anchorsOf(home))).mode & 0o777, 0o600);
  const vms = join(home, 'repositories', 'default', 'vms');
  const [vm] = await readdir(vms);
  const [point] = await readdir(join(vms, vm as string, 'points'));
  const manifest = JSON.parse(await readFile(join(vms, vm as string, 'points', point as string, 'manifest.json'), 'utf8')) as {
    auditHead: unknown;
  };
  assert.deepEqual(
    manifest.auditHead,
    { id: 2, hash: rows[1]?.hash },
    'the backup recorded the log as it stood when it committed (its own backup.start)',
  );
});

test('an audit entry changed behind the engine is found', async () => {
  const result = await verifyAfter(await homeCopy(), (db) => db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE id = 4").run());
  assert.equal(result.intact, false);
  assert.match(result.problem ?? '', /entry 4 \(verify\.start\) was changed after it was written/);
});

test('an audit entry removed behind the engine is found', async () => {
  const result = await verifyAfter(await homeCopy(), (db) => db.prepare('DELETE FROM audit_log WHERE id = 3').run());
  assert.equal(result.intact, false);
  assert.match(result.problem ?? '', /entry 4 \(verify\.start\) does not follow the entry before it/);
});

for (const cut of [1, 2, 4]) {
  test(`the last ${cut} entr${cut === 1 ? 'y' : 'ies'} deleted (triggers dropped, with the sqlite3 tool) is found and named`, async () => {
    const home = await homeCopy();
    const first = 6 - cut;
    execFileSync('sqlite3', [
      join(home, 'catalog.sqlite'),
      `DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id >= ${first};`,
    ]);
    const result = await verifyNow(home);
    assert.equal(result.intact, false);
    assert.match(
      result.problem ?? '',
      new RegExp(`^audit log truncated: row ${first} anchored at \\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z is missing$`),
    );
  });
}

test('rows deleted and new ones written in their place (ids reused) do not match their anchors', async () => {
  const home = await homeCopy();
  const result = await verifyAfter(home, (db) => {
    db.prepare('DELETE FROM audit_log WHERE id >= 4').run();
    const last = db.prepare('SELECT hash FROM audit_log WHERE id = 3').get() as { hash: string };
    // A forged entry 4 that chains correctly: only the anchor can tell.
    const at = new Date().toISOString();
    const details = '{}';
    const hash = createHash('sha256')
      .update(JSON.stringify([last.hash, at, 'mallory', 'verify.start', null, details]))
      .digest('hex');
    db.prepare('INSERT INTO audit_log (id, at, actor, action, subject, details, prev_hash, hash) VALUES (4, ?, ?, ?, NULL, ?, ?, ?)').run(
      at,
      'mallory',
      'verify.start',
      details,
      last.hash,
      hash,
    );
  });
  assert.equal(result.intact, false);
  assert.match(result.problem ?? '', /^audit entry 4 does not match its anchor of .+: the log was rewritten$/);
});

test('a deleted anchor file is reported, not taken for a home from before anchors', async () => {
  const home = await homeCopy();
  await rm(anchorsOf(home));
  const result = await verifyNow(home);
  assert.equal(result.intact, false);
  assert.match(result.problem ?? '', /^audit anchors missing: .*anchors\.log is gone, and entries from 1 on were anchored there$/);
});

test('anchors deleted and entries appended since: the new file does not begin where anchoring began', async () => {
  const home = await homeCopy();
  await rm(anchorsOf(home));
  const engine = await openServedEngine({ home, workerThreads: 2 });
  try {
    engine.catalog.audit('mallory', 'settings.set', null, {});
    assert.match(
      (await engine.handlers['audit.verify']({}, callContext(osCaller()))).problem ?? '',
      /do not begin at entry 1, where anchoring began: the file was replaced or cut/,
    );
  } finally {
    await engine.close();
  }
});

test('the table and the anchor file cut together: the restore point still names the row it saw', async () => {
  const home = await homeCopy();
  const anchors = (await readFile(anchorsOf(home), 'utf8')).split('\n');
  await writeFile(anchorsOf(home), `${anchors[0]}\n`);
  const result = await verifyAfter(home, (db) => db.prepare('DELETE FROM audit_log WHERE id >= 2').run());
  assert.equal(result.intact, false);
  assert.match(result.problem ?? '', /^audit log truncated: row 2, recorded by restore point [0-9a-f-]+, is missing$/);
});

test('a damaged anchor line is named; a last line a crash cut short is not a finding', async () => {
  const home = await homeCopy();
  const text = await readFile(anchorsOf(home), 'utf8');
  await writeFile(anchorsOf(home), `${text}6 0123`);
  assert.equal((await verifyNow(home)).intact, true);
  await writeFile(anchorsOf(home), text.replace(/^2 /m, '9 '));
  assert.match((await verifyNow(home)).problem ?? '', /audit anchors .*anchors\.log are damaged at line 3/);
});

test('after a crash cut the last anchor short, the next entries are anchored on lines of their own', async () => {
  const home = await homeCopy();
  const whole = await readFile(anchorsOf(home), 'utf8');
  await writeFile(anchorsOf(home), `${whole}6 0123abc`);
  const engine = await openServedEngine({ home, workerThreads: 2 });
  try {
    engine.catalog.audit('carol', 'settings.set', null, { fourEyes: true });
    assert.deepEqual(await engine.handlers['audit.verify']({}, callContext(osCaller())), { entries: 6, intact: true, problem: null });
  } finally {
    await engine.close();
  }
  const lines = (await readFile(anchorsOf(home), 'utf8')).split('\n');
  assert.equal(lines.length, 7, 'five whole lines, the new one, and the empty rest after the last newline');
  assert.match(lines[5] ?? '', /^6 [0-9a-f]{64} \S+$/);
});

test('`lifeboat audit verify` says intact, then exits 1 naming the truncated row', async () => {
  const home = await homeCopy();
  const intact = execFileSync(process.execPath, [cli, '--home', home, 'audit', 'verify'], { encoding: 'utf8' });
  assert.match(intact, /^audit log intact: 5 entries, hash chain verified against its anchors and the restore points$/m);
  execFileSync('sqlite3', [join(home, 'catalog.sqlite'), 'DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE id = 5;']);
  const run = await new Promise<{ status: number; stdout: string }>((resolve) => {
    execFile(process.execPath, [cli, '--home', home, 'audit', 'verify'], { encoding: 'utf8', timeout: 60_000 }, (error, stdout) =>
      resolve({ status: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
  assert.equal(run.status, 1);
  assert.match(run.stdout, /^audit log TAMPERED: audit log truncated: row 5 anchored at \S+ is missing$/m);
});
