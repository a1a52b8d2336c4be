// The channels of the repository copies: the sites a point is copied to, the copy jobs and how
// far each VM's copies are.
import type { VmLookup } from '../catalog/vm-lookup.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import type { CopyService } from './copy-service.ts';

/** Checks a folder on this machine and makes it absolute (restore/target-checks.ts). */
type CheckLocalPath = (path: string, what: string, repositories: { name: string; path: string }[]) => Promise<string>;

export function copyHandlers(
  copies: CopyService,
  catalog: Catalog,
  lookup: VmLookup,
  checkLocalPath: CheckLocalPath,
): ChannelHandlers<'repos.list' | 'repos.add' | 'repos.locate' | 'repos.remove' | 'copies.run' | 'copies.status'> {
  return {
    'repos.list': async () => catalog.copies.sites(),
    // Overlap with another repository is the copy service's to judge (a conflict, either way round).
    'repos.add': async (request, { actor }) =>
      copies.add({ ...request, path: await checkLocalPath(request.path, 'the repository folder', []) }, actor),
    'repos.locate': async ({ name, region, zone }, { actor }) => copies.locate(name, region, zone, actor),
    'repos.remove': async ({ name }, { actor }) => {
      copies.remove(name, actor);
      return { removed: name };
    },
    'copies.run': async ({ vms }, { actor }) => {
      const found = vms?.map((vm) => lookup.resolveVm(vm)) ?? null;
      return { job: copies.startCopies(found?.map((vm) => vm.id) ?? null, found?.map((vm) => vm.name).join(', ') ?? 'every VM', actor) };
    },
    'copies.status': async ({ vm }) => copies.status(vm === undefined ? null : [lookup.resolveVm(vm).id]),
  };
}
