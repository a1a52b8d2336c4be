// The catalog's own contract on both of its backends (SQLite and PostgreSQL): the audit log is a
// hash chain no statement may rewrite, account names are one whatever their case, restore points
// and jobs read back as written (short ids included), and the tape catalog keeps its copies,
// volumes and prompts in order.
import assert from 'node:assert/strict';
import { Catalog } from '../../electron/catalog/catalog.ts';
import type { CatalogDatabase } from '../../electron/catalog/database.ts';
import type { Prompt } from '../../shared/domain.ts';
import type { InstantRecord } from '../../electron/catalog/instant-catalog.ts';
import type { TestContext } from 'node:test';
import { anchorsIn, catalogTest, type CatalogBackend } from '../helpers/catalog-backends.ts';
import { pointManifest } from '../helpers/point-manifest.ts';
import { jobRecord } from '../helpers/queue-works.ts';
import { startingRecord } from '../../electron/instant/instant-service.ts';

const dbOf = (catalog: Catalog): CatalogDatabase => (catalog as unknown as { db: CatalogDatabase }).db;

/** A catalog on `backend`, closed after the test, holding repository `repo` (named `name`) and
 * point-1 of vm-web. */
async function catalogWithPoint(t: TestContext, backend: CatalogBackend, name: string): Promise<Catalog> {
  const catalog = await backend.open();
  t.after(() => catalog.close());
  catalog.ensureRepository({ id: 'repo', name, path: '/nowhere', blockSize: 1 << 20 });
  catalog.recordPoint(pointManifest('point-1', 'vm-web', 1), 'repo', '/vms/web', null);
  return catalog;
}

catalogTest('the audit log: a hash chain in order, anchored, and no UPDATE or DELETE gets through', async (t, backend) => {
  const catalog = await backend.open();
  t.after(() => catalog.close());
  catalog.audit('alice', 'settings.set', null, { a: 1 });
  catalog.audit('bob', 'backup', 'web', { why: 'nightly' });
  const entries = catalog.auditEntries();
  assert.deepEqual(
    entries.map((entry) => [entry.actor, entry.action, entry.subject]),
    [
      ['bob', 'backup', 'web'],
      ['alice', 'settings.set', null],
      ['engine', 'audit.anchored', null],
    ],
  );
  assert.deepEqual(
    entries.map((entry) => typeof entry.id),
    ['number', 'number', 'number'],
  );
  assert.equal(catalog.auditHead()?.id, entries[0]?.id);
  assert.deepEqual(catalog.verifyAudit(), { entries: 3, intact: true, problem: null });
  const db = dbOf(catalog);
  assert.throws(() => db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE id = ?").run(entries[1]?.id), /append-only/);
  assert.throws(() => db.prepare('DELETE FROM audit_log WHERE id = ?').run(entries[0]?.id), /append-only/);
  assert.throws(() => db.transaction(() => db.prepare('DELETE FROM audit_log').run())(), /append-only/, 'nor inside a transaction');
  assert.deepEqual(catalog.verifyAudit(), { entries: 3, intact: true, problem: null });
  catalog.audit('carol', 'restore', 'web', {});
  assert.equal(catalog.auditEntries(1)[0]?.actor, 'carol', 'the log still takes entries after a refused statement');
});

catalogTest('accounts: a name is one whatever its case; its sessions follow it in any case', async (t, backend) => {
  const catalog = await backend.open();
  t.after(() => catalog.close());
  catalog.accounts.add('Alice', 'operator', 'hash-a');
  catalog.accounts.add('bob', 'viewer', 'hash-b');
  assert.equal(catalog.accounts.find('alice')?.name, 'Alice');
  assert.equal(catalog.accounts.find('ALICE')?.passwordHash, 'hash-a');
  assert.equal(catalog.accounts.find('carol'), null);
  assert.throws(() => catalog.accounts.add('aLiCe', 'viewer', 'hash-c'), /UNIQUE constraint failed/);
  assert.deepEqual(
    catalog.accounts.list().map((account) => account.name),
    ['Alice', 'bob'],
  );
  const later = new Date(Date.now() + 3_600_000).toISOString();
  catalog.accounts.addSession('token-1', { account: 'alice', role: 'operator', via: 'local' }, later);
  catalog.accounts.addSession('token-2', { account: 'bob', role: 'viewer', via: 'local' }, later);
  catalog.accounts.setRole('ALICE', 'approver');
  assert.equal(catalog.accounts.session('token-1', new Date())?.role, 'approver', 'the open session carries the new role');
  assert.equal(catalog.accounts.countWithRole('approver'), 1);
  catalog.accounts.setPassword('alice', 'hash-a2');
  assert.equal(catalog.accounts.session('token-1', new Date()), null, 'a new password ends the sessions');
  assert.equal(catalog.accounts.session('token-2', new Date())?.account, 'bob');
  assert.equal(catalog.accounts.removeSession('token-2'), true);
  assert.equal(catalog.accounts.removeSession('token-2'), false);
  catalog.accounts.remove('ALICE');
  assert.equal(catalog.accounts.find('Alice'), null);
});

catalogTest('restore points and VMs read back as written, newest first, with their counts', async (t, backend) => {
  const catalog = await catalogWithPoint(t, backend, 'repo');
  catalog.recordPoint(pointManifest('point-2', 'vm-web', 2, 'point-1'), 'repo', '/vms/web', null);
  catalog.recordPoint(pointManifest('point-3', 'vm-db', 1), 'repo', '/vms/db', null);
  assert.equal(catalog.hasPoint('point-2'), true);
  assert.equal(catalog.hasPoint('point-9'), false);
  const points = catalog.listPoints('vm-web');
  assert.deepEqual(
    points.map((point) => [point.id, point.sequence, point.kind, point.parentId]),
    [
      ['point-2', 2, 'incremental', 'point-1'],
      ['point-1', 1, 'full', null],
    ],
  );
  assert.deepEqual(
    points.map((point) => typeof point.sequence),
    ['number', 'number'],
  );
  const vms = catalog.listVms();
  assert.deepEqual(vms.map((vm) => [vm.id, vm.pointCount, vm.latestPointId]).sort(), [
    ['vm-db', 1, 'point-3'],
    ['vm-web', 2, 'point-2'],
  ]);
});

catalogTest('jobs: short ids expand to the one job they start, an ambiguous one is refused; listed newest first', async (t, backend) => {
  const catalog = await backend.open();
  t.after(() => catalog.close());
  const at = '2025-01-01T00:00:00.000Z';
  for (const id of ['abcdef01-0000-4000-8000-000000000001', 'abcdef02-0000-4000-8000-000000000002', '12345678-0000-4000-8000-000000000003'])
    catalog.insertJob(jobRecord({ id, kind: 'backup', state: 'queued', summary: `job ${id}`, createdAt: at }), { n: 1 });
  assert.equal(catalog.expandId('job', '12345678'), '12345678-0000-4000-8000-000000000003');
  assert.equal(catalog.expandId('job', 'ABCDEF01'), 'abcdef01-0000-4000-8000-000000000001');
  assert.throws(() => catalog.expandId('job', 'abcdef'), { code: 'conflict' });
  assert.equal(catalog.expandId('job', 'ffffffff'), 'ffffffff', 'an unknown prefix is left for the caller to not find');
  assert.deepEqual(
    catalog.listJobs(10).map((job) => job.id.slice(0, 8)),
    ['12345678', 'abcdef02', 'abcdef01'],
    'same time: the last inserted first',
  );
  assert.deepEqual(
    catalog.jobsInState(['queued']).map((job) => job.id.slice(0, 8)),
    ['abcdef01', 'abcdef02', '12345678'],
  );
  assert.deepEqual(catalog.jobParams('12345678-0000-4000-8000-000000000003'), { n: 1 });
});

catalogTest('the tape catalog: media sets, volumes, copies with their bytes, prompts newest first', async (t, backend) => {
  const catalog = await backend.open();
  t.after(() => catalog.close());
  const tapes = catalog.tapes;
  tapes.addMediaSet({ id: 'set-1', pool: 'weekly', blockSize: 1 << 20, state: 'writing' });
  tapes.recordVolume({ barcode: 'LB0002L8', mediaSetId: 'set-1', sequence: 2, bytes: 200, writtenAt: '2025-01-02T00:00:00.000Z' });
  tapes.recordVolume({ barcode: 'LB0001L8', mediaSetId: 'set-1', sequence: 1, bytes: 100, writtenAt: '2025-01-01T00:00:00.000Z' });
  const maps = Buffer.from([0, 1, 2, 255]);
  tapes.saveCopy({
    mediaSetId: 'set-1',
    manifest: pointManifest('point-1', 'vm-web', 1),
    uniqueBlocks: 3,
    storedBytes: 300,
    maps,
    locations: Buffer.from('a'),
  });
  tapes.saveCopy({
    mediaSetId: 'set-1',
    manifest: pointManifest('point-1', 'vm-web', 1),
    uniqueBlocks: 3,
    storedBytes: 300,
    maps,
    locations: Buffer.from('ab'),
  });
  const copy = tapes.copy('set-1', 'point-1');
  assert.ok(copy);
  assert.deepEqual([copy.uniqueBlocks, copy.storedBytes, copy.manifest.id], [3, 300, 'point-1']);
  assert.deepEqual(copy.maps, maps);
  assert.deepEqual(copy.locations, Buffer.from('ab'), 'a second save merges its locations');
  assert.equal(tapes.copiesOf('web').length, 1, 'by VM name');
  const [summary] = tapes.summaries();
  assert.deepEqual(
    { ...summary, pointCreatedAt: undefined },
    {
      mediaSetId: 'set-1',
      pointId: 'point-1',
      vmId: 'vm-web',
      vmName: 'web',
      pointSequence: 1,
      pointCreatedAt: undefined,
      storedBytes: 300,
      uniqueBlocks: 3,
      metadataBytes: 4 + 2 + JSON.stringify(pointManifest('point-1', 'vm-web', 1)).length,
      pool: 'weekly',
      barcodes: ['LB0001L8', 'LB0002L8'],
    },
  );
  const prompt = (id: string): Prompt => ({
    id,
    jobIds: ['job-1'],
    kind: 'insert-tape',
    barcode: null,
    message: `insert a tape (${id})`,
    place: 'drive 0',
    state: 'open',
    createdAt: '2025-01-01T00:00:00.000Z',
    closedAt: null,
    closedBy: null,
  });
  tapes.openPrompt(prompt('prompt-1'));
  tapes.openPrompt(prompt('prompt-2'));
  tapes.openPrompt(prompt('prompt-3'));
  assert.deepEqual(
    tapes.prompts(true).map((open) => open.id),
    ['prompt-3', 'prompt-2', 'prompt-1'],
    'same time: the last opened first',
  );
  assert.equal(tapes.closePrompt('prompt-2', 'answered', 'alice')?.closedBy, 'alice');
  assert.equal(tapes.expireOpenPrompts(), 2);
  assert.deepEqual(
    tapes.prompts(false).map((closed) => closed.state),
    ['expired', 'answered', 'expired'],
  );
  assert.equal(tapes.prompts(true).length, 0);
});

catalogTest('statements answer as SQLite does: changes, lastInsertRowid, 1/0 for truth, text in byte order', async (t, backend) => {
  const catalog = await backend.open();
  t.after(() => catalog.close());
  const db = dbOf(catalog);
  const addPath = db.prepare('INSERT OR IGNORE INTO file_paths (vm_id, path, name) VALUES (?, ?, ?)');
  const first = addPath.run('vm-1', '/a', 'a');
  assert.deepEqual([first.changes, Number(first.lastInsertRowid)], [1, 1]);
  const second = addPath.run('vm-1', '/b', 'b');
  assert.deepEqual([second.changes, Number(second.lastInsertRowid)], [1, 2]);
  const ignored = addPath.run('vm-1', '/a', 'a');
  assert.deepEqual([ignored.changes, Number(ignored.lastInsertRowid)], [0, 2], 'an ignored insert leaves the last rowid as it was');
  assert.equal(db.prepare('UPDATE file_paths SET name = ? WHERE vm_id = ?').run('x', 'vm-1').changes, 2);
  assert.deepEqual(db.prepare('SELECT 1 < 2 AS yes, 2 < 1 AS no, EXISTS (SELECT 1 FROM file_paths) AS present').get(), {
    yes: 1,
    no: 0,
    present: 1,
  });
  for (const name of ['b', 'B', 'a', '_', 'Ä'])
    db.prepare('INSERT INTO vms (id, name, created_at) VALUES (?, ?, ?)').run(`vm-${name}`, name, '2025-01-01');
  assert.deepEqual(
    (db.prepare('SELECT name FROM vms ORDER BY name').all() as { name: string }[]).map((row) => row.name),
    ['B', '_', 'a', 'b', 'Ä'],
    'by bytes (BINARY), in a database of any locale',
  );
  assert.deepEqual(
    db.prepare('SELECT count(*) AS n, sum(length(name)) AS total FROM vms').get(),
    { n: 5, total: 5 },
    'counts and sums are numbers',
  );
});

catalogTest(
  'copies: sites primary first, a copy recorded again is updated, a point lists its repository, copies and tapes',
  async (t, backend) => {
    const catalog = await catalogWithPoint(t, backend, 'main');
    const site = (id: string, name: string, region: string) =>
      ({
        id,
        name,
        path: `/copies/${name}`,
        region,
        zone: 'a',
        role: 'copy',
        blockSize: 1 << 20,
        createdAt: '2025-01-01T00:00:00.000Z',
      }) as const;
    catalog.copies.addSite(site('copy-b', 'b-vault', 'far'));
    catalog.copies.addSite(site('copy-a', 'a-vault', 'far'));
    assert.deepEqual(
      catalog.copies.sites().map((repository) => repository.name),
      ['main', 'a-vault', 'b-vault'],
    );
    assert.equal(catalog.copies.site('copy-a')?.name, 'a-vault');
    assert.equal(catalog.copies.site('b-vault')?.id, 'copy-b');
    catalog.copies.recordCopy('point-1', 'copy-a', 'sha-1', 10);
    catalog.copies.recordCopy('point-1', 'copy-a', 'sha-2', 20);
    assert.deepEqual(
      catalog.copies.copyRows('point-1').map((row) => [row.repositoryId, row.dataSha256]),
      [['copy-a', 'sha-2']],
    );
    catalog.tapes.addMediaSet({ id: 'set-1', pool: 'weekly', blockSize: 1 << 20, state: 'complete' });
    for (const [barcode, sequence] of [
      ['LB0001L8', 1],
      ['LB0002L8', 2],
    ] as const)
      catalog.tapes.recordVolume({ barcode, mediaSetId: 'set-1', sequence, bytes: 1, writtenAt: `2025-01-0${sequence}T00:00:00.000Z` });
    catalog.tapes.saveCopy({
      mediaSetId: 'set-1',
      manifest: pointManifest('point-1', 'vm-web', 1),
      uniqueBlocks: 1,
      storedBytes: 1,
      maps: Buffer.alloc(0),
      locations: Buffer.alloc(0),
    });
    const copies = catalog.copies.pointCopiesOf('vm-web').get('point-1') ?? [];
    assert.deepEqual(
      copies.map((copy) => [copy.kind, copy.tier, copy.kind === 'tape' ? copy.name.split(', ').sort().join(', ') : copy.name]),
      [
        ['repository', 'snapshot', 'main'],
        ['repository', 'vault', 'a-vault'],
        ['tape', 'vault', 'LB0001L8, LB0002L8'],
      ],
    );
    assert.equal(copies[2]?.copiedAt, '2025-01-01T00:00:00.000Z', 'the first tape written');
    assert.equal(catalog.instant.nextExportId(), 1, 'no session yet: the first export id');
    catalog.copies.removeSite('copy-b');
    assert.equal(catalog.copies.site('copy-b'), null);
  },
);

catalogTest('instant sessions: written, patched, listed newest first and by state, export ids never reused', async (t, backend) => {
  const catalog = await catalogWithPoint(t, backend, 'main');
  const session = (id: string, createdAt: string, exportId: number): InstantRecord => ({
    ...startingRecord(id),
    createdAt,
    vmId: 'vm-web',
    vmName: 'web',
    pointId: 'point-1',
    name: `web-${id}`,
    host: 'esx-1',
    hostSystem: null,
    datastore: `lifeboat-${id}`,
    listen: '10.0.0.5:0',
    exportPath: `/lifeboat-${id}`,
    allowed: ['10.0.0.9'],
    exportFolder: '/export',
    cacheFolder: '/cache',
    redirected: false,
    exportId,
    servedPort: null,
    fromRegion: null,
  });
  catalog.instant.insert(session('s-1', '2025-01-01T00:00:00.000Z', catalog.instant.nextExportId()));
  catalog.instant.insert({ ...session('s-2', '2025-01-02T00:00:00.000Z', catalog.instant.nextExportId()), redirected: true });
  assert.equal(catalog.instant.nextExportId(), 3);
  const patched = catalog.instant.update('s-1', { state: 'running', bytesRead: 2 ** 40, poweredOnMs: 1500, note: 'ok' });
  assert.deepEqual(
    [patched.state, patched.bytesRead, patched.poweredOnMs, patched.note, patched.allowed, patched.redirected],
    ['running', 2 ** 40, 1500, 'ok', ['10.0.0.9'], false],
  );
  assert.equal(catalog.instant.get('s-2')?.redirected, true);
  assert.deepEqual(
    catalog.instant.list().map((record) => record.id),
    ['s-2', 's-1'],
  );
  assert.deepEqual(
    catalog.instant.inStates(['starting', 'running']).map((record) => record.id),
    ['s-1', 's-2'],
  );
  assert.deepEqual(
    catalog.instant.inStates(['running']).map((record) => record.id),
    ['s-1'],
  );
  assert.equal(catalog.expandId('session', 's-1'), 's-1');
});

catalogTest('a catalog opened read-only reads, and refuses every write with SQLite’s words', async (_t, backend) => {
  const location = await backend.location();
  const writer = backend.reopen(location, await anchorsIn());
  writer.accounts.add('alice', 'viewer', 'hash');
  writer.close();
  const reader = Catalog.openReadOnly(location);
  assert.ok(reader);
  try {
    assert.equal(reader.accounts.find('ALICE')?.name, 'alice');
    assert.throws(() => reader.accounts.add('bob', 'viewer', 'hash'), /readonly database/);
    assert.equal(reader.accounts.find('bob'), null);
  } finally {
    reader.close();
  }
});
