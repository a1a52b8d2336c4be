// The repository is the truth: at start-up the catalog indexes any committed point it has not
// seen, and records the manifest hash of points made before hashes were recorded, as they read now.
import type { Manifest } from '../repository/manifest.ts';
import type { PointEntry, Repository } from '../repository/repository.ts';
import type { Catalog } from './catalog.ts';

type ReadablePoint = PointEntry & { manifest: Manifest; sha256: string };

/** The committed, healthy points of the repository, VM by VM. */
async function* readablePoints(repository: Repository): AsyncGenerator<ReadablePoint> {
  for (const vmId of await repository.listVmIds()) {
    for (const entry of await repository.scanPoints(vmId)) {
      if (entry.manifest && entry.damage === null && entry.sha256 !== null)
        yield { ...entry, manifest: entry.manifest, sha256: entry.sha256 };
    }
  }
}

export async function reconcileCatalog(catalog: Catalog, repository: Repository): Promise<void> {
  for await (const entry of readablePoints(repository)) {
    if (catalog.hasPoint(entry.id)) {
      catalog.adoptManifestSha256(entry.id, entry.sha256);
      continue;
    }
    // A damaged parent is not indexed: the child is, without the link (its chain is in its manifest).
    const parentId = entry.manifest.parentId !== null && catalog.hasPoint(entry.manifest.parentId) ? entry.manifest.parentId : null;
    catalog.recordPoint({ ...entry.manifest, parentId }, repository.info.id, null, null, entry.sha256);
  }
}

/** Would reconcileCatalog change the catalog (a point to index, a hash to record)? A listing that
 * opens the home read-only leaves that to the engine. */
export async function catalogBehindRepository(catalog: Catalog, repository: Repository): Promise<boolean> {
  for await (const entry of readablePoints(repository)) {
    if (!catalog.hasPoint(entry.id) || catalog.manifestSha256(entry.id) === null) return true;
  }
  return false;
}
