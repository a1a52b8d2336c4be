// The cache folder's table of the volume: which file ids name which files, so file ids — and the
// NFS file handles made of them — are the same after the engine restarts.
//
// File `volume.json` (UTF-8 JSON, replaced whole: written beside as `volume.json.new`, flushed,
// renamed over, the folder flushed):
//   { "format": "lifeboat-instant-cache", "version": 1,
//     "volume": the volume's name, "nextId": no id at or past it was given (ids are reserved in
//                blocks: a resumed volume gives new ids from nextId, never one a client may hold),
//     "disks": [{ "id", "base": the base's name when served first, "name": its name now,
//                 "capacity": the base's bytes, "removed": true once the client deleted it }],
//     "files": [{ "id", "name" }] — plain files in the export's VM folder }
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { isErrnoCode, LifeboatError } from '../errors.ts';

export const TABLE_FILE = 'volume.json';
const FORMAT = 'lifeboat-instant-cache';

const Id = z
  .number()
  .int()
  .min(3)
  .max(2 ** 52);
const Table = z
  .object({
    format: z.literal(FORMAT),
    version: z.literal(1),
    volume: z.string(),
    nextId: Id,
    disks: z.array(
      z.object({ id: Id, base: z.string(), name: z.string(), capacity: z.number().int().min(0), removed: z.boolean() }).strict(),
    ),
    files: z.array(z.object({ id: Id, name: z.string() }).strict()),
  })
  .strict();
export type VolumeTable = z.infer<typeof Table>;

export function newTable(volume: string): VolumeTable {
  return { format: FORMAT, version: 1, volume, nextId: 3, disks: [], files: [] };
}

/** Replaces the table whole, so a kill leaves the old one or the new one. */
export function saveTable(folder: string, table: VolumeTable): void {
  const path = join(folder, TABLE_FILE);
  const next = `${path}.new`;
  const fd = openSync(next, 'w', 0o600);
  try {
    writeFileSync(fd, `${JSON.stringify(table, null, 1)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(next, path);
  const dir = openSync(folder, 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** The same, off the event loop: for changes a client does not wait on. */
export async function saveTableAsync(folder: string, table: VolumeTable): Promise<void> {
  const path = join(folder, TABLE_FILE);
  const next = `${path}.new`;
  const file = await open(next, 'w', 0o600);
  try {
    await file.writeFile(`${JSON.stringify(table, null, 1)}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(next, path);
  const dir = await open(folder, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export function loadTable(folder: string): VolumeTable {
  const path = join(folder, TABLE_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT'))
      throw new LifeboatError('corrupt-backup', `the cache folder ${folder} has no ${TABLE_FILE}: there is no session to resume there`);
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new LifeboatError('corrupt-backup', `${path} is not JSON: the session's cache cannot be resumed`);
  }
  const result = Table.safeParse(parsed);
  if (!result.success) throw new LifeboatError('corrupt-backup', `${path} is damaged: ${result.error.issues[0]?.message ?? 'bad shape'}`);
  const table = result.data;
  const ids = [...table.disks, ...table.files].map((entry) => entry.id);
  if (new Set(ids).size !== ids.length || ids.some((id) => id >= table.nextId))
    throw new LifeboatError('corrupt-backup', `${path} is damaged: its file ids repeat or pass nextId`);
  return table;
}
