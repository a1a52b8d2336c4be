// A folder of a restore point as its file index holds it (`files ls --from-index`): the catalog
// alone, the point not opened, so a point whose disks are on tape or an offline copy is browsed
// too, and a home no engine serves answers it read-only (engine/read-only-home.ts). What the index
// keeps of an entry: name, type, size, mode, mtime to the second; what it left out of the folder
// comes with it (its gaps).
import type { ResponseOf } from '../../shared/contract.ts';
import { FileEntry } from '../../shared/domain.ts';
import { isInsideVolume, splitVolumePath } from '../../shared/item-paths.ts';
import type { Catalog } from '../catalog/catalog.ts';
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
  return {
    entries: entries.map((entry) => ({
      name: entry.name,
      type: FileEntry.shape.type.safeParse(entry.type).data ?? 'other',
      size: entry.size,
      mtime: entry.mtime === null ? null : new Date(entry.mtime * 1000).toISOString(),
      mode: entry.mode,
    })),
    gaps,
  };
}

export function indexedFolderHandler(catalog: Catalog, lookup: VmLookup): ChannelHandlers<'files.listIndexed'> {
  return { 'files.listIndexed': async (request) => listIndexedFolder(catalog, lookup, request) };
}
