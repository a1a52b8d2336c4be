// The home's own channels: what the engine is, the VMs and points of its catalog, its settings
// and its audit trail (checked against the audit heads the restore points recorded).
import type { AuditHead } from '../catalog/audit-anchors.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { VmLookup } from '../catalog/vm-lookup.ts';
import type { Repository } from '../repository/repository.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import type { VmPlaces } from './vm-places.ts';

const ENGINE_VERSION = '0.1.0';

export type HomeHandlersDeps = {
  home: string;
  workerThreads: number;
  catalog: Catalog;
  repository: Repository;
  lookup: VmLookup;
  places: VmPlaces;
};

/** The audit heads the repository's restore points recorded, for `audit verify`. */
async function pointAuditHeads(repository: Repository): Promise<{ pointId: string; head: AuditHead }[]> {
  const heads: { pointId: string; head: AuditHead }[] = [];
  for (const vmId of await repository.listVmIds()) {
    for (const manifest of await repository.listPoints(vmId))
      if (manifest.auditHead) heads.push({ pointId: manifest.id, head: manifest.auditHead });
  }
  return heads;
}

/** What the catalog alone answers: a home opened read-only answers these too. */
export function homeReadHandlers(catalog: Catalog): ChannelHandlers<'settings.get' | 'audit.list'> {
  return {
    'settings.get': async () => catalog.settings(),
    'audit.list': async () => catalog.auditEntries(),
  };
}

/** A VM's points with their health, read from the repository (a read-only home answers it too). */
export function pointsReadHandler(lookup: VmLookup): ChannelHandlers<'points.list'> {
  return { 'points.list': async ({ vm }) => lookup.pointsWithHealth(lookup.resolveVm(vm).id) };
}

export function homeHandlers(
  deps: HomeHandlersDeps,
): ChannelHandlers<'engine.info' | 'vms.list' | 'points.list' | 'settings.get' | 'settings.set' | 'audit.list' | 'audit.verify'> {
  const { catalog, repository, lookup } = deps;
  return {
    ...homeReadHandlers(catalog),
    ...pointsReadHandler(lookup),
    'engine.info': async () => ({
      version: ENGINE_VERSION,
      home: deps.home,
      repositoryPath: repository.path,
      workerThreads: deps.workerThreads,
    }),
    'vms.list': async () => deps.places.summaries(),
    'settings.set': async (patch, { actor }) => {
      const before = catalog.settings();
      const after = catalog.updateSettings(patch);
      catalog.audit(actor, 'settings.set', null, { before, after });
      return after;
    },
    'audit.verify': async () => catalog.verifyAudit(await pointAuditHeads(repository)),
  };
}
