// `catalog migrate` reads a file from outside: a damaged catalog.sqlite (bytes overwritten, the
// file cut short) is either moved whole — the damage hit no page in use, or only values, and every
// table's rows and hash still match — or refused with one clear error naming it (a damaged file,
// or a value PostgreSQL keeps otherwise, such as text holding a NUL), the PostgreSQL database left
// without a row. A real catalog, filled through the Catalog API, damaged by fast-check.
import assert from 'node:assert/strict';
import { copyFile, open, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { Catalog } from '../../electron/catalog/catalog.ts';
import { transferCatalog } from '../../electron/catalog/catalog-transfer.ts';
import { PostgresCatalogDatabase } from '../../electron/catalog/postgres/postgres-database.ts';
import { LifeboatError } from '../../electron/errors.ts';
import { postgresForThisFile } from '../helpers/catalog-backends.ts';
import { tempDir } from '../helpers/env.ts';
import { pointManifest } from '../helpers/point-manifest.ts';

const { skip, server } = postgresForThisFile();

/** A catalog with points, jobs' rows, a file index and audit entries: every kind of page. */
async function filledCatalog(dir: string): Promise<string> {
  const path = join(dir, 'catalog.sqlite');
  const catalog = Catalog.open(path, join(dir, 'anchors.log'));
  try {
    catalog.ensureRepository({ id: 'repo', name: 'main', path: '/nowhere', blockSize: 1 << 20 });
    for (let sequence = 1; sequence <= 20; sequence++) {
      const parent = sequence === 1 ? null : `point-${sequence - 1}`;
      catalog.recordPoint(pointManifest(`point-${sequence}`, 'vm-web', sequence, parent), 'repo', '/vms/web', null);
      catalog.audit('os:root', 'backup.recorded', `point-${sequence}`, { sequence });
    }
    const files = Array.from({ length: 1500 }, (_, i) => ({
      path: `/disk0/part1/etc/${i % 40}/file-${i}.conf`,
      name: `file-${i}.conf`,
      type: 'file',
      size: i,
      mtime: 1_700_000_000 + i,
      mode: 0o644,
    }));
    for (const point of ['point-1', 'point-2']) catalog.files.indexPoint('vm-web', point, files);
  } finally {
    catalog.close();
  }
  return path;
}

/** Whether any table of the database at `url` holds a row. */
function holdsRows(url: string): boolean {
  const db = new PostgresCatalogDatabase(url);
  try {
    const tables = db.raw(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'lifeboat_schema_version'",
    ).rows as { table_name: string }[];
    return tables.some(({ table_name: table }) => db.raw(`SELECT EXISTS (SELECT 1 FROM "${table}") AS found`).rows[0]?.found === 1);
  } finally {
    db.close();
  }
}

test('a damaged SQLite catalog is moved whole or refused with one clear error, the target left empty', { skip }, async () => {
  const peer = await server();
  const dir = await tempDir();
  const original = await filledCatalog(dir);
  const size = (await stat(original)).size;
  const damage = fc.oneof(
    fc.record({
      kind: fc.constant('overwrite' as const),
      offset: fc.nat({ max: size - 1 }),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 512 }),
    }),
    fc.record({ kind: fc.constant('truncate' as const), length: fc.nat({ max: size - 1 }) }),
  );
  let run = 0;
  const outcomes = { moved: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(damage, async (hurt) => {
      const copy = join(dir, `damaged-${++run}.sqlite`);
      await copyFile(original, copy);
      if (hurt.kind === 'truncate') await truncate(copy, hurt.length);
      else {
        const handle = await open(copy, 'r+');
        await handle.write(hurt.bytes, 0, hurt.bytes.length, hurt.offset);
        await handle.close();
      }
      const url = await peer.newDatabase();
      try {
        transferCatalog(copy, url);
        outcomes.moved++;
      } catch (error) {
        assert.ok(error instanceof LifeboatError, `one clear error, not ${String(error)}`);
        assert.ok(['invalid-source', 'conflict'].includes(error.code), `${error.code}: ${error.message}`);
        assert.match(error.message, /damaged|cannot be moved as it is|schema|newer/);
        assert.equal(holdsRows(url), false, 'nothing of a refused catalog is kept');
        outcomes.refused++;
      }
    }),
    { numRuns: 12 },
  );
  assert.ok(outcomes.refused > 0, `some damage is found (${JSON.stringify(outcomes)})`);
});
