// A folder's entries as a listing gives them (the contract's FileEntry), whichever answers it:
// the point's file systems (files-service.ts) or the point's file index (indexed-folder.ts),
// which the index job fills from the first (index-point.ts). One form and one order, so the two
// answers are the same listing.
import type { FileEntry } from '../../shared/domain.ts';
import { splitVolumePath } from '../../shared/item-paths.ts';
import { byName } from '../catalog/file-index.ts';
import type { FsEntry } from '../filesystems/file-system.ts';

/** What a listing shows of an entry read from the point (not its allocation, links or file id). */
export function listedEntry(entry: FsEntry): FileEntry {
  return {
    name: entry.name,
    type: entry.type,
    size: entry.size,
    mtime: entry.mtime ? entry.mtime.toISOString() : null,
    mode: entry.mode,
    ...(entry.target === undefined ? {} : { target: entry.target }),
    ...(entry.problem === undefined ? {} : { problem: entry.problem }),
    ...(entry.notes === undefined ? {} : { notes: entry.notes }),
  };
}

/** A point's listing of `path`: a volume's folders in name order (the index's order), disks and
 * volumes in theirs (disk0 … disk10, part1 … part12). */
export function listingOf(path: string, entries: readonly FsEntry[]): FileEntry[] {
  const listed = entries.map(listedEntry);
  return splitVolumePath(path) === null ? listed : listed.sort(byName);
}
