// Tapes in the catalog: media sets, the volumes (barcodes) of each, and per restore point copied
// to tape its block maps and where each stored block lies (packed, so a terabyte of backup costs
// megabytes here, not a row per block). Also the operator prompts the engine has raised.
import { Manifest } from '../repository/manifest.ts';
import type { CatalogDatabase } from './database.ts';
import type { Prompt, TapeCopySummary, TapeVolume } from '../../shared/domain.ts';

export type TapeCopy = {
  id: number;
  mediaSetId: string;
  manifest: Manifest;
  uniqueBlocks: number;
  storedBytes: number;
  maps: Buffer;
  locations: Buffer;
};

type CopyRow = {
  id: number;
  media_set_id: string;
  manifest: string;
  unique_blocks: number;
  stored_bytes: number;
  maps: Buffer;
  locations: Buffer;
};
type PromptRow = {
  id: string;
  job_ids: string;
  kind: 'insert-tape';
  barcode: string | null;
  message: string;
  place: string;
  state: Prompt['state'];
  created_at: string;
  closed_at: string | null;
  closed_by: string | null;
};

function copyFromRow(row: CopyRow): TapeCopy {
  return {
    id: row.id,
    mediaSetId: row.media_set_id,
    manifest: Manifest.parse(JSON.parse(row.manifest)),
    uniqueBlocks: row.unique_blocks,
    storedBytes: row.stored_bytes,
    maps: row.maps,
    locations: row.locations,
  };
}

function promptFromRow(row: PromptRow): Prompt {
  return {
    id: row.id,
    jobIds: JSON.parse(row.job_ids) as string[],
    kind: row.kind,
    barcode: row.barcode,
    message: row.message,
    place: row.place,
    state: row.state,
    createdAt: row.created_at,
    closedAt: row.closed_at,
    closedBy: row.closed_by,
  };
}

export class TapeCatalog {
  private readonly db: CatalogDatabase;

  constructor(db: CatalogDatabase) {
    this.db = db;
  }

  addMediaSet(set: { id: string; pool: string; blockSize: number; state: 'writing' | 'complete' | 'scanned' }): void {
    this.db
      .prepare('INSERT OR IGNORE INTO tape_media_sets (id, pool, block_size, created_at, state) VALUES (?, ?, ?, ?, ?)')
      .run(set.id, set.pool, set.blockSize, new Date().toISOString(), set.state);
  }

  setMediaSetState(id: string, state: 'writing' | 'complete'): void {
    this.db.prepare('UPDATE tape_media_sets SET state = ? WHERE id = ?').run(state, id);
  }

  removeMediaSet(id: string): void {
    this.db.prepare('DELETE FROM tape_media_sets WHERE id = ?').run(id);
  }

  recordVolume(volume: { barcode: string; mediaSetId: string; sequence: number; bytes: number; writtenAt: string }): void {
    this.db
      .prepare(
        'INSERT INTO tape_volumes (barcode, media_set_id, sequence, bytes, written_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (barcode) DO UPDATE SET media_set_id = excluded.media_set_id, sequence = excluded.sequence, bytes = excluded.bytes, written_at = excluded.written_at',
      )
      .run(volume.barcode, volume.mediaSetId, volume.sequence, volume.bytes, volume.writtenAt);
  }

  volumes(mediaSetId?: string): TapeVolume[] {
    const rows = this.db
      .prepare(
        `SELECT v.barcode, v.media_set_id AS mediaSetId, v.sequence, v.bytes, v.written_at AS writtenAt, s.pool, s.state FROM tape_volumes v JOIN tape_media_sets s ON s.id = v.media_set_id ${mediaSetId ? 'WHERE v.media_set_id = ?' : ''} ORDER BY v.media_set_id, v.sequence`,
      )
      .all(...(mediaSetId ? [mediaSetId] : [])) as TapeVolume[];
    return rows;
  }

  volume(barcode: string): TapeVolume | null {
    return this.volumes().find((volume) => volume.barcode === barcode) ?? null;
  }

  /** Saves a copy, or merges locations learned from another tape of its set into it. */
  saveCopy(copy: Omit<TapeCopy, 'id'>): void {
    this.db
      .prepare(
        `INSERT INTO tape_copies (media_set_id, point_id, vm_id, vm_name, point_sequence, point_created_at, manifest, unique_blocks, stored_bytes, maps, locations)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (media_set_id, point_id) DO UPDATE SET locations = excluded.locations`,
      )
      .run(
        copy.mediaSetId,
        copy.manifest.id,
        copy.manifest.vmId,
        copy.manifest.vmName,
        copy.manifest.sequence,
        copy.manifest.createdAt,
        JSON.stringify(copy.manifest),
        copy.uniqueBlocks,
        copy.storedBytes,
        copy.maps,
        copy.locations,
      );
  }

  copy(mediaSetId: string, pointId: string): TapeCopy | null {
    const row = this.db.prepare('SELECT * FROM tape_copies WHERE media_set_id = ? AND point_id = ?').get(mediaSetId, pointId) as
      CopyRow | undefined;
    return row ? copyFromRow(row) : null;
  }

  /** Copies of a VM's points on tape, newest point first (by VM id or name). */
  copiesOf(vm: string): TapeCopy[] {
    const rows = this.db
      .prepare('SELECT * FROM tape_copies WHERE vm_id = ? OR vm_name = ? ORDER BY point_sequence DESC, id DESC')
      .all(vm, vm) as CopyRow[];
    return rows.map(copyFromRow);
  }

  summaries(): TapeCopySummary[] {
    const rows = this.db
      .prepare(
        `SELECT c.media_set_id AS mediaSetId, c.point_id AS pointId, c.vm_id AS vmId, c.vm_name AS vmName, c.point_sequence AS pointSequence, c.point_created_at AS pointCreatedAt, c.stored_bytes AS storedBytes, c.unique_blocks AS uniqueBlocks,
                length(c.maps) + length(c.locations) + length(c.manifest) AS metadataBytes, s.pool
         FROM tape_copies c JOIN tape_media_sets s ON s.id = c.media_set_id ORDER BY c.vm_name, c.point_sequence`,
      )
      .all() as Omit<TapeCopySummary, 'barcodes'>[];
    return rows.map((row) => ({ ...row, barcodes: this.volumes(row.mediaSetId).map((volume) => volume.barcode) }));
  }

  openPrompt(prompt: Prompt): void {
    this.db
      .prepare(
        'INSERT INTO prompts (id, job_ids, kind, barcode, message, place, state, created_at, closed_at, closed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        prompt.id,
        JSON.stringify(prompt.jobIds),
        prompt.kind,
        prompt.barcode,
        prompt.message,
        prompt.place,
        prompt.state,
        prompt.createdAt,
        prompt.closedAt,
        prompt.closedBy,
      );
  }

  closePrompt(id: string, state: Exclude<Prompt['state'], 'open'>, by: string | null): Prompt | null {
    this.db
      .prepare("UPDATE prompts SET state = ?, closed_at = ?, closed_by = ? WHERE id = ? AND state = 'open'")
      .run(state, new Date().toISOString(), by, id);
    return this.prompt(id);
  }

  prompt(id: string): Prompt | null {
    const row = this.db.prepare('SELECT * FROM prompts WHERE id = ?').get(id) as PromptRow | undefined;
    return row ? promptFromRow(row) : null;
  }

  prompts(onlyOpen: boolean): Prompt[] {
    const rows = this.db
      .prepare(`SELECT * FROM prompts ${onlyOpen ? "WHERE state = 'open'" : ''} ORDER BY created_at DESC, rowid DESC LIMIT 200`)
      .all() as PromptRow[];
    return rows.map(promptFromRow);
  }

  /** Prompts a stopped engine left open can no longer be answered. */
  expireOpenPrompts(): number {
    return this.db.prepare("UPDATE prompts SET state = 'expired', closed_at = ? WHERE state = 'open'").run(new Date().toISOString())
      .changes;
  }
}
