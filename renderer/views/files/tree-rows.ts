// The rows of the Files tree: the listed folders flattened in order, and the folders to open so a
// path (a search hit) is in view.
import type { FileEntry } from '../../../shared/domain.ts';
import { escapeGuestName } from '../../../shared/guest-names.ts';

export type Row = { path: string; depth: number; entry: FileEntry };

/** The open folders' entries, depth first; a child is addressed by its escaped name (a guest name
 * holding '/' is picked so). */
export function treeRows(listings: ReadonlyMap<string, FileEntry[] | undefined>, expanded: readonly string[]): Row[] {
  const open = new Set(expanded);
  const rows: Row[] = [];
  const add = (folder: string, depth: number): void => {
    for (const entry of listings.get(folder) ?? []) {
      const path = `${folder === '/' ? '' : folder}/${escapeGuestName(entry.name).name}`;
      rows.push({ path, depth, entry });
      if (open.has(path)) add(path, depth + 1);
    }
  };
  add('/', 0);
  return rows;
}

/** The root and every folder above `path`: "/a/b/c" → ["/", "/a", "/a/b"]. */
export function foldersAbove(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return ['/', ...parts.slice(0, -1).map((_, index) => `/${parts.slice(0, index + 1).join('/')}`)];
}
