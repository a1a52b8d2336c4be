// The file index in the catalog: every path of a VM stored once, the versions of it in each
// indexed point, and the names searchable by any part of them (FTS5, trigram tokens).
import Database from 'better-sqlite3';
import type { CatalogDatabase, CatalogStatement } from './database.ts';
import { statementOf } from './statements.ts';

/** `mtime` in whole seconds (what search shows), `mtimeMs` the milliseconds past that second (null:
 * none, or not known); `target`: a symlink's (or device's) target. */
export type IndexedFile = {
  path: string;
  name: string;
  type: string;
  size: number;
  mtime: number | null;
  mtimeMs?: number | null;
  mode: number | null;
  target?: string | null;
};
/** An entry of a folder of the index. */
export type IndexedEntry = Omit<IndexedFile, 'path' | 'mtimeMs' | 'target'> & { mtimeMs: number | null; target: string | null };
/** What an index left out (`unreadable`: a volume, folder or entry it could not read) or could not
 * vouch for (`stale`: a volume shown as found, without its journal). */
export type IndexGap = { path: string; kind: 'unreadable' | 'stale'; reason: string };
export type PointGaps = { vmId: string; pointId: string; sequence: number; unreadable: number; stale: number; gaps: IndexGap[] };
export type SearchHit = {
  vmId: string;
  path: string;
  versions: { pointId: string; sequence: number; size: number; mtime: number | null }[];
};

const MIN_TRIGRAM = 3;
/** Entries per batch: 8 values each stays far under SQLite's 32,766 bound variables. */
const INDEX_BATCH = 500;
/** `rows` groups of `width` placeholders: (?, ?), (?, ?), … */
const marks = (rows: number, width: number): string =>
  Array(rows)
    .fill(`(${Array(width).fill('?').join(', ')})`)
    .join(', ');
const MAX_GAPS_SHOWN = 20;
/** The form an index made now keeps its entries in (indexed_points.listing): every entry of a
 * folder as the point's listing shows it (migration 27). An index made in another form is not
 * used for listings. */
const LISTING_FORM = 1;

/** Names in UTF-16 code unit order: a folder's order in the index, the same on both backends
 * whatever PostgreSQL's collation, and of a listing read from the point. */
export const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** A file as the index keeps it on both backends: PostgreSQL's text cannot hold U+0000, which a
 * damaged file system can put in a name or a target, so U+FFFD stands in its place. */
function withoutNul(file: IndexedFile): IndexedFile {
  const clean = (text: string): string => text.replaceAll('\u0000', '\uFFFD');
  if (!`${file.path}${file.target ?? ''}`.includes('\u0000')) return file;
  return { ...file, path: clean(file.path), name: clean(file.name), ...(file.target ? { target: clean(file.target) } : {}) };
}

/** The folder a path is in: the path up to its last '/'. */
const parentOf = (path: string): string => path.slice(0, Math.max(0, path.lastIndexOf('/')));
/** The folder an indexed file is in: its path without '/' and its name, which may hold a '/' of
 * its own (a damaged file system); migration 26 sets the same for paths indexed before it. */
const folderOf = (file: IndexedFile): string => file.path.slice(0, Math.max(0, file.path.length - file.name.length - 1));

const quoteMatch = (text: string): string => `"${text.replace(/"/g, '""')}"`;
const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** A name's length as the trigram tokenizer counts it: characters (code points), not UTF-16 units. */
const characters = (text: string): number => [...text].length;

/** A search pattern as a whole-name test: with `*` (any run) or `?` (one character) the whole name
 * must match; without, the name must contain it. Case is folded for every script, as the trigram
 * index folds it (SQLite's LIKE folds ASCII letters only). */
export function namePattern(pattern: string): RegExp {
  if (!/[*?]/.test(pattern)) return new RegExp(escapeRegExp(pattern), 'iu');
  const source = [...pattern.replace(/\*+/g, '*')].map((char) => (char === '*' ? '.*' : char === '?' ? '.' : escapeRegExp(char))).join('');
  return new RegExp(`^${source}$`, 'isu');
}

/** Registers `name_matches(pattern, name)` on a connection: the last pattern's RegExp is kept,
 * since one query tests every name against one pattern. */
export function registerNameMatching(db: CatalogDatabase): void {
  // PostgreSQL's catalog has name_matches in SQL (postgres/postgres-database.ts).
  if (!(db instanceof Database)) return;
  let last: { pattern: string; test: RegExp } | null = null;
  db.function('name_matches', { deterministic: true }, (pattern: unknown, name: unknown) => {
    if (typeof pattern !== 'string' || typeof name !== 'string') return 0;
    if (last?.pattern !== pattern) last = { pattern, test: namePattern(pattern) };
    return last.test.test(name) ? 1 : 0;
  });
}

/** The query for names matching `needle`. Trigrams (FTS5) answer any name holding a literal run
 * of three characters or more: the longest run of the pattern narrows the names through the
 * index, `name_matches` then checks the whole pattern on those few. Without such a run,
 * `name_matches` scans the names. */
export function nameQuery(needle: string, byVm: boolean): { sql: string; terms: string[] } {
  const vm = byVm ? 'AND p.vm_id = ?' : '';
  const wildcard = /[*?]/.test(needle);
  const longest = needle.split(/[*?]/).reduce((best, run) => (characters(run) > characters(best) ? run : best), '');
  if (characters(longest) < MIN_TRIGRAM)
    return { sql: `SELECT p.id, p.vm_id, p.path FROM file_paths p WHERE name_matches(?, p.name) ${vm} LIMIT ?`, terms: [needle] };
  const fromIndex = 'SELECT p.id, p.vm_id, p.path FROM file_names f JOIN file_paths p ON p.id = f.rowid WHERE file_names MATCH ?';
  if (!wildcard) return { sql: `${fromIndex} ${vm} LIMIT ?`, terms: [quoteMatch(needle)] };
  return { sql: `${fromIndex} AND name_matches(?, p.name) ${vm} LIMIT ?`, terms: [quoteMatch(longest), needle] };
}

export class FileIndex {
  private readonly db: CatalogDatabase;

  constructor(db: CatalogDatabase) {
    this.db = db;
    registerNameMatching(db);
  }

  isIndexed(pointId: string): boolean {
    return this.db.prepare('SELECT 1 FROM indexed_points WHERE point_id = ?').get(pointId) !== undefined;
  }

  /** Replaces a point's entries in one transaction; new paths join the name index. Entries go
   * in batches of INDEX_BATCH, a few statements each: per entry, PostgreSQL's round trips would
   * cost a hundred times SQLite's calls (bench part `catalog`). `aboveVolumes`, the listings above
   * the volumes as JSON, is given when the files are every folder's entries just as the point
   * lists them (index-point.ts vouches): the index then answers listings. */
  indexPoint(
    vmId: string,
    pointId: string,
    files: Iterable<IndexedFile>,
    gaps: readonly IndexGap[] = [],
    { aboveVolumes }: { aboveVolumes?: string } = {},
  ): number {
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM point_files WHERE point_id = ?').run(pointId);
      this.db.prepare('DELETE FROM index_gaps WHERE point_id = ?').run(pointId);
      let count = 0;
      let namesAgree = true;
      const folders = new Map<string, number>();
      let batch = new Map<string, IndexedFile>();
      for (const given of files) {
        const file = withoutNul(given);
        batch.set(file.path, file); // a path listed twice keeps its last entry, as INSERT OR REPLACE did
        count++;
        if (batch.size === INDEX_BATCH) {
          namesAgree = this.indexBatch(vmId, pointId, [...batch.values()], folders) && namesAgree;
          batch = new Map();
        }
      }
      if (batch.size > 0) namesAgree = this.indexBatch(vmId, pointId, [...batch.values()], folders) && namesAgree;
      // A path another point indexed under another name (one of them a damaged name holding '/')
      // sits in that name's folder: this point's folders would not list it where it is.
      const listing = aboveVolumes !== undefined && namesAgree;
      this.db
        .prepare(
          'INSERT OR REPLACE INTO indexed_points (point_id, vm_id, files, indexed_at, listing, above_volumes) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(pointId, vmId, count, new Date().toISOString(), listing ? LISTING_FORM : 0, listing ? aboveVolumes : null);
      const addGap = this.db.prepare('INSERT INTO index_gaps (point_id, path, kind, reason) VALUES (?, ?, ?, ?)');
      for (const gap of gaps) addGap.run(pointId, gap.path, gap.kind, gap.reason);
      return count;
    })();
  }

  /** One batch of distinct paths: the ids of those already known, new ones added (with their
   * names and folders), then every entry of the point. False when a known path has another name
   * (and so another folder) than this point's entry gives it. */
  private indexBatch(vmId: string, pointId: string, files: readonly IndexedFile[], folders: Map<string, number>): boolean {
    const ids = new Map<string, number>();
    const known = this.batchStatement(
      `SELECT id, path, name FROM file_paths WHERE vm_id = ? AND path IN (${Array(files.length).fill('?').join(', ')})`,
      files.length,
    ).all(vmId, ...files.map((file) => file.path)) as { id: number; path: string; name: string }[];
    const names = new Map(known.map((row) => [row.path, row.name]));
    for (const row of known) ids.set(row.path, row.id);
    const fresh = files.filter((file) => !ids.has(file.path));
    if (fresh.length > 0) {
      this.addFolders(vmId, new Set(fresh.map(folderOf)), folders);
      const added = this.batchStatement(
        `INSERT INTO file_paths (vm_id, path, name, folder_id) VALUES ${marks(fresh.length, 4)} RETURNING id, path`,
        fresh.length,
      ).all(...fresh.flatMap((file) => [vmId, file.path, file.name, folders.get(folderOf(file))])) as { id: number; path: string }[];
      for (const row of added) ids.set(row.path, row.id);
      this.batchStatement(`INSERT INTO file_names (rowid, name) VALUES ${marks(fresh.length, 2)}`, fresh.length).run(
        ...fresh.flatMap((file) => [ids.get(file.path), file.name]),
      );
    }
    this.batchStatement(
      `INSERT OR REPLACE INTO point_files (point_id, path_id, type, size, mtime, mtime_ms, mode, target) VALUES ${marks(files.length, 8)}`,
      files.length,
    ).run(
      ...files.flatMap((file) => [
        pointId,
        ids.get(file.path),
        file.type,
        file.size,
        file.mtime,
        file.mtimeMs ?? null,
        file.mode,
        file.target ?? null,
      ]),
    );
    return files.every((file) => (names.get(file.path) ?? file.name) === file.name);
  }

  /** The ids of folders not in `folders` yet (this indexing's, by path) are found or added: a
   * batch's files sit in a few folders, so one look-up and at most one insert per batch. */
  private addFolders(vmId: string, wanted: Set<string>, folders: Map<string, number>): void {
    const missing = [...wanted].filter((path) => !folders.has(path));
    if (missing.length === 0) return;
    const found = this.db
      .prepare(`SELECT id, path FROM index_folders WHERE vm_id = ? AND path IN (${Array(missing.length).fill('?').join(', ')})`)
      .all(vmId, ...missing) as { id: number; path: string }[];
    for (const row of found) folders.set(row.path, row.id);
    const fresh = missing.filter((path) => !folders.has(path));
    if (fresh.length === 0) return;
    const added = this.db
      .prepare(`INSERT INTO index_folders (vm_id, path) VALUES ${marks(fresh.length, 2)} RETURNING id, path`)
      .all(...fresh.flatMap((path) => [vmId, path])) as { id: number; path: string }[];
    for (const row of added) folders.set(row.path, row.id);
  }

  /** A full batch's statement is kept; the last, shorter batch of each point is prepared for itself
   * (kept, every length would stay prepared). */
  private batchStatement(sql: string, rows: number): CatalogStatement {
    return rows === INDEX_BATCH ? statementOf(this.db, sql) : this.db.prepare(sql);
  }

  /** When the point's index keeps its entries as a listing of the point shows them (made in
   * LISTING_FORM, of file systems without names it could not keep apart): the listings above
   * the volumes it keeps, as JSON. Null otherwise. */
  listings(pointId: string): { aboveVolumes: string } | null {
    const row = statementOf(this.db, 'SELECT listing, above_volumes FROM indexed_points WHERE point_id = ?').get(pointId) as
      { listing: number; above_volumes: string | null } | undefined;
    return row?.listing === LISTING_FORM && row.above_volumes !== null ? { aboveVolumes: row.above_volumes } : null;
  }

  /** A folder of an indexed point as its index holds it: its entries in name order (by UTF-16
   * code units, the same on both backends, whatever PostgreSQL's collation), their sizes, types,
   * modes, mtimes and targets (an index made before migration 27 has mtimes to the second and no
   * targets). Null when the point is not indexed. Entries the index could not read are not among
   * them: folderGaps names them. */
  folder(vmId: string, pointId: string, folder: string): IndexedEntry[] | null {
    if (!this.isIndexed(pointId)) return null;
    const entries = statementOf(
      this.db,
      // CROSS JOIN keeps SQLite's loops in this order (the folder, its paths, each one's entry of
      // the point): left to itself, it walked every entry of the point first. PostgreSQL orders the
      // joins by its statistics whatever the syntax.
      `SELECT p.name, f.type, f.size, f.mtime, f.mtime_ms AS mtimeMs, f.mode, f.target FROM index_folders d CROSS JOIN file_paths p CROSS JOIN point_files f
       WHERE p.folder_id = d.id AND f.path_id = p.id AND f.point_id = ? AND d.vm_id = ? AND d.path = ?`,
    ).all(pointId, vmId, folder) as IndexedEntry[];
    return entries.sort(byName);
  }

  /** What a path is in a point's index ('dir', 'file', …), or null when the index does not hold it. */
  typeOf(vmId: string, pointId: string, path: string): string | null {
    const row = statementOf(
      this.db,
      'SELECT f.type FROM file_paths p CROSS JOIN point_files f WHERE f.path_id = p.id AND f.point_id = ? AND p.vm_id = ? AND p.path = ?',
    ).get(pointId, vmId, path) as { type: string } | undefined;
    return row?.type ?? null;
  }

  /** What the index of a point left out of one folder, or cannot vouch for: gaps at its entries,
   * at the folder itself or above it (a folder or volume that could not be read, a volume that
   * may be stale). */
  folderGaps(pointId: string, path: string): IndexGap[] {
    const gaps = statementOf(this.db, 'SELECT path, kind, reason FROM index_gaps WHERE point_id = ? ORDER BY path').all(
      pointId,
    ) as IndexGap[];
    return gaps.filter((gap) => parentOf(gap.path) === path || `${path}/`.startsWith(`${gap.path}/`));
  }

  /** The indexed points (of one VM, or all) whose index has gaps, oldest first; at most
   * MAX_GAPS_SHOWN gaps of each point are returned, the counts count them all. */
  gaps(vmId: string | null): PointGaps[] {
    const points = this.db
      .prepare(
        `SELECT i.point_id, i.vm_id, r.sequence, SUM(g.kind = 'unreadable') AS unreadable, SUM(g.kind = 'stale') AS stale FROM index_gaps g JOIN indexed_points i ON i.point_id = g.point_id JOIN restore_points r ON r.id = i.point_id ${vmId ? 'WHERE i.vm_id = ?' : ''} GROUP BY i.point_id, i.vm_id, r.sequence ORDER BY i.vm_id, r.sequence`,
      )
      .all(...(vmId ? [vmId] : [])) as { point_id: string; vm_id: string; sequence: number; unreadable: number; stale: number }[];
    const gapsOf = this.db.prepare('SELECT path, kind, reason FROM index_gaps WHERE point_id = ? ORDER BY kind, path LIMIT ?');
    return points.map((point) => ({
      vmId: point.vm_id,
      pointId: point.point_id,
      sequence: point.sequence,
      unreadable: point.unreadable,
      stale: point.stale,
      gaps: gapsOf.all(point.point_id, MAX_GAPS_SHOWN) as IndexGap[],
    }));
  }

  /** Files whose name contains `pattern` (any case), with the points that hold them. With `*`
   * (any run of characters) or `?` (one character) the pattern is the whole name instead:
   * `*.conf`, `host?ame`. */
  search(pattern: string, vmId: string | null, limit = 100): SearchHit[] {
    const needle = pattern.trim();
    if (needle === '') return [];
    const { sql, terms } = nameQuery(needle, vmId !== null);
    const rows = this.db.prepare(sql).all(...terms, ...(vmId ? [vmId] : []), limit) as {
      id: number;
      vm_id: string;
      path: string;
    }[];
    const versions = this.db.prepare(
      `SELECT f.point_id, r.sequence, f.size, f.mtime FROM point_files f JOIN restore_points r ON r.id = f.point_id WHERE f.path_id = ? ORDER BY r.sequence`,
    );
    return rows.map((row) => ({
      vmId: row.vm_id,
      path: row.path,
      versions: (versions.all(row.id) as { point_id: string; sequence: number; size: number; mtime: number | null }[]).map((version) => ({
        pointId: version.point_id,
        sequence: version.sequence,
        size: version.size,
        mtime: version.mtime,
      })),
    }));
  }
}
