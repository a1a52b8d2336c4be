// The repository is the truth: at start-up the catalog indexes any committed point it has not
// seen, and records the manifest hash of points made before hashes were recorded, as they read now.
import type { Repository } from '../repository/repository.ts';
import type { Catalog } from './catalog.ts';

export async function reconcileCatalog(catalog: Catalog, repository: Repository): Promise<void> {
  for (const vmId of await repository.listVmIds()) {
    for (const entry of await repository.scanPoints(vmId)) {
      if (!entry.manifest || entry.damage !== null || entry.sha256 === null) continue;
      if (catalog.hasPoint(entry.id)) {
        catalog.adoptManifestSha256(entry.id, entry.sha256);
        continue;
      }
      // A damaged parent is not indexed: the child is, without the link (its chain is in its manifest).
      const parentId = entry.manifest.parentId !== null && catalog.hasPoint(entry.manifest.parentId) ? entry.manifest.parentId : null;
      catalog.recordPoint({ ...entry.manifest, parentId }, repository.info.id, null, null, entry.sha256);
    }
  }
}
