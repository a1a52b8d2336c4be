// A folder of a restore point as its file index holds it: the catalog alone, the point not
// opened, so a point whose disks are on tape or an offline copy is browsed too, and a home no
// engine serves answers it read-only (engine/read-only-home.ts). `files ls --from-index` shows
// what the index holds and what it left out of the folder (its gaps); `files ls` takes the index's
// answer only where it is the listing the point itself would give (listingFromIndex).
import { z } from 'zod';
import type { ResponseOf } from '../../shared/contract.ts';
import { FileEntry } from '../../shared/domain.ts';
import { isInsideVolume, splitVolumePath } from '../../shared/item-paths.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { IndexedEntry } from '../catalog/file-index.ts';
import type { VmLookup } from '../catalog/vm-lookup.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import { LifeboatError } from '../errors.ts';

/** Refused when the point is not indexed, or the path is above the volumes (the index holds what
 * is inside them), not a folder, or nowhere in the index. */
export function listIndexedFolder(
  catalog: Catalog,
  lookup: Pick<VmLookup, 'resolveVm' | 'resolvePointId'>,
  request: { vm: string; point: string; path: string },
): ResponseOf<'files.listIndexed'> {
  const { point, path } = request;
  const vm = lookup.resolveVm(request.vm);
  const pointId = lookup.resolvePointId(vm.id, point);
  const split = splitVolumePath(path);
  if (!split)
    throw new LifeboatError('bad-request', `${path}: the file index holds what is inside volumes: /diskN/partM/… or /lvm/<vg>/<lv>/…`);
  const folder = split.inner === '/' ? split.volume : `${split.volume}${split.inner}`;
  const entries = catalog.files.folder(vm.id, pointId, folder);
  if (entries === null)
    throw new LifeboatError(
      'not-found',
      `point ${point} of ${vm.name} is not indexed; \`lifeboat files index ${vm.name} --point ${point}\` indexes it`,
    );
  const gaps = catalog.files.folderGaps(pointId, folder);
  if (entries.length === 0 && gaps.length === 0) {
    // The index lists no volume and no empty folder's absence: ask what the path itself is.
    const type = isInsideVolume(folder) ? catalog.files.typeOf(vm.id, pointId, folder) : null;
    if (type === null)
      throw new LifeboatError(
        'not-found',
        `${path}: the index of this point holds nothing there (no such folder or volume, or an empty volume)`,
      );
    if (type !== 'dir') throw new LifeboatError('bad-request', `${path} is a ${type}, not a folder`);
  }
  return { entries: entries.map(entryFromIndex), gaps };
}

/** An entry of the index as a listing shows it. */
function entryFromIndex(entry: IndexedEntry): FileEntry {
  return {
    name: entry.name,
    type: FileEntry.shape.type.safeParse(entry.type).data ?? 'other',
    size: entry.size,
    mtime: entry.mtime === null ? null : new Date(entry.mtime * 1000 + (entry.mtimeMs ?? 0)).toISOString(),
    mode: entry.mode,
    ...(entry.target === null ? {} : { target: entry.target }),
  };
}

/** The listings above the volumes an index keeps (index-point.ts), by the path each answers. */
const AboveVolumes = z.record(z.string(), z.array(FileEntry));

/** A folder's listing from the point's index, or null where the index cannot give the listing
 * the point's file systems would: a point not indexed, or indexed in an older form; a path not
 * as the index walked it (/, each disk, /lvm, each VG; then the folder's path, '/' and a name);
 * entries or a folder the index could not read or vouch for (gaps); and a path the index holds
 * nothing under unless it knows that path as an empty folder (not a file, nor a name another
 * spelling would find). The point then answers, with its own errors. */
export function listingFromIndex(catalog: Catalog, vmId: string, pointId: string, path: string): FileEntry[] | null {
  const { files } = catalog;
  const listings = files.listings(pointId);
  if (listings === null) return null;
  if (splitVolumePath(path) === null) return AboveVolumes.parse(JSON.parse(listings.aboveVolumes))[path] ?? null;
  const entries = files.folder(vmId, pointId, path);
  if (entries === null || (entries.length === 0 && files.typeOf(vmId, pointId, path) !== 'dir')) return null;
  // A gap at the folder or above it, or at an entry the index left out (not one it holds, such as
  // a subfolder whose own entries could not be read).
  const held = new Set(entries.map((entry) => entry.name));
  const gaps = files.folderGaps(pointId, path);
  if (gaps.some((gap) => !gap.path.startsWith(`${path}/`) || !held.has(gap.path.slice(path.length + 1)))) return null;
  return entries.map(entryFromIndex);
}

export function indexedFolderHandler(catalog: Catalog, lookup: VmLookup): ChannelHandlers<'files.listIndexed'> {
  return { 'files.listIndexed': async (request) => listIndexedFolder(catalog, lookup, request) };
}
