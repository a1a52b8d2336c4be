// LIFEBOAT_BENCH_ONLY=catalog: the catalog's look-ups on its two backends, SQLite (the home's file)
// and PostgreSQL (a real server on loopback, started here), on the same rows: a VM with 200
// points, a file index of 20,000 paths in 5 points, 200 jobs. Each look-up is timed 25 times; the
// table gives medians and PostgreSQL's ratio to SQLite. Filling the file index is timed too: it
// shows what indexing a point costs on each.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog } from '../electron/catalog/catalog.ts';
import { postgresMissing, startPostgres } from '../scripts/peers/postgresql.ts';
import { newJobRecord } from '../electron/jobs/job-record.ts';
import { median, timed } from './common.ts';

const POINTS = 200;
const INDEXED_POINTS = 5;
const PATHS = Number(process.env.LIFEBOAT_BENCH_CATALOG_PATHS ?? '20000');
/** The index's files are spread over this many folders of /disk0/part1/etc. */
const FOLDERS = 200;
const JOBS = 200;
const RUNS = 25;

type Figures = { fill: number; index: number; lookups: Map<string, number> };

function pointManifest(sequence: number) {
  return {
    format: 'lifeboat-point' as const,
    version: 1 as const,
    id: `point-${sequence}`,
    vmId: 'bench-vm',
    vmName: 'bench',
    sequence,
    kind: sequence === 1 ? ('full' as const) : ('incremental' as const),
    parentId: sequence === 1 ? null : `point-${sequence - 1}`,
    createdAt: new Date(Date.UTC(2026, 0, 1) + sequence * 3_600_000).toISOString(),
    blockSize: 1 << 20,
    vmConfig: { fileName: 'bench.vmx', text: '' },
    disks: [],
    dataFile: { name: 'data.lbd' as const, size: 0 },
    stats: { scannedBytes: 0, changedBytes: 0, storedBytes: 0, dedupedBlocks: 0 },
  };
}

async function measure(catalog: Catalog): Promise<Figures> {
  const fill = await timed(() => {
    catalog.ensureRepository({ id: 'bench', name: 'bench', path: '/bench', blockSize: 1 << 20 });
    for (let sequence = 1; sequence <= POINTS; sequence++) catalog.recordPoint(pointManifest(sequence), 'bench', null, null);
    for (let i = 0; i < JOBS; i++)
      catalog.insertJob(
        newJobRecord({
          id: `job-${i}`,
          kind: 'verify',
          state: 'succeeded',
          vmId: 'bench-vm',
          vmName: 'bench',
          summary: `verify ${i}`,
          createdAt: new Date(Date.UTC(2026, 0, 2) + i * 1000).toISOString(),
        }),
        {},
      );
  });
  const index = await timed(() => {
    for (let point = 1; point <= INDEXED_POINTS; point++) {
      const files = Array.from({ length: PATHS }, (_, i) => {
        const name = `file-${i}-${(i * 7919) % 100_003}.conf`;
        return { path: `/disk0/part1/etc/${i % FOLDERS}/${name}`, name, type: 'file', size: i, mtime: 1_700_000_000 + i, mode: 0o644 };
      });
      catalog.files.indexPoint('bench-vm', `point-${point}`, files);
    }
  });
  const lookups = new Map<string, () => unknown>([
    [`points of a VM (${POINTS})`, () => catalog.listPoints('bench-vm')],
    [`jobs, newest ${JOBS}`, () => catalog.listJobs(JOBS)],
    ['file search, a substring', () => catalog.files.search('file-4242-', null)],
    ['file search, a wildcard', () => catalog.files.search('file-1?3-*.conf', 'bench-vm')],
    [`a folder of the file index (${PATHS / FOLDERS} entries)`, () => catalog.files.folder('bench-vm', 'point-3', '/disk0/part1/etc/42')],
  ]);
  const medians = new Map<string, number>();
  for (const [name, lookup] of lookups) {
    lookup(); // the first run prepares statements on both
    const runs: number[] = [];
    for (let run = 0; run < RUNS; run++) runs.push(await timed(() => void lookup()));
    medians.set(name, median(runs));
  }
  return { fill, index, lookups: medians };
}

export async function catalogBench(root: string): Promise<void> {
  console.log(`Lifeboat bench, catalog look-ups on SQLite and PostgreSQL: ${RUNS} runs each, medians`);
  const missing = postgresMissing();
  if (missing !== null) {
    console.log(`  ${missing}: the comparison is skipped`);
    return;
  }
  const work = await mkdtemp(join(root, 'catalog-'));
  const server = await startPostgres();
  try {
    const results: [string, Figures][] = [];
    for (const [backend, location] of [
      ['SQLite', join(work, 'catalog.sqlite')],
      ['PostgreSQL', await server.newDatabase()],
    ] as const) {
      const catalog = Catalog.open(location, join(work, `${backend}-anchors.log`));
      try {
        results.push([backend, await measure(catalog)]);
      } finally {
        catalog.close();
      }
    }
    const [sqlite, postgres] = results.map(([, figures]) => figures) as [Figures, Figures];
    const ms = (seconds: number): string => `${(seconds * 1000).toFixed(2)} ms`;
    console.log(`  | look-up | SQLite | PostgreSQL | PostgreSQL / SQLite |`);
    console.log(`  | --- | --- | --- | --- |`);
    for (const [name, time] of sqlite.lookups) {
      const other = postgres.lookups.get(name) ?? Number.NaN;
      console.log(`  | ${name} | ${ms(time)} | ${ms(other)} | ${(other / time).toFixed(1)}× |`);
    }
    const rows = INDEXED_POINTS * PATHS;
    console.log(
      `  | fill: ${POINTS} points, ${JOBS} jobs | ${sqlite.fill.toFixed(2)} s | ${postgres.fill.toFixed(2)} s | ${(postgres.fill / sqlite.fill).toFixed(1)}× |`,
    );
    console.log(
      `  | file index: ${rows} entries (${Math.round(rows / sqlite.index)} / ${Math.round(rows / postgres.index)} per s) | ${sqlite.index.toFixed(2)} s | ${postgres.index.toFixed(2)} s | ${(postgres.index / sqlite.index).toFixed(1)}× |`,
    );
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}
