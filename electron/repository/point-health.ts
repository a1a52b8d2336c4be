// The health of a point's metadata, for listings and verify: its own manifest (read and checked
// by the repository) and the points it depends on being there. Block maps and blocks are not
// read here; restoring or verifying the point checks those.
import type { PointHealth } from '../../shared/domain.ts';
import type { PointEntry } from './repository.ts';

const LEGACY =
  'made before points recorded the hash of their manifest: checked for sense, and its hash recorded in the catalog when first read';

export function pointHealth(entries: PointEntry[], pointId: string): PointHealth {
  const byId = new Map(entries.map((entry) => [entry.id, entry]));
  const entry = byId.get(pointId);
  if (!entry) return { state: 'damaged', reason: 'its folder is missing from the repository' };
  if (!entry.manifest || entry.damage !== null) return { state: 'damaged', reason: entry.damage };
  const needed = entry.manifest.dependsOn;
  if (needed) {
    // Only the files of these points are used, never their manifests.
    const gone = needed.find((link) => !byId.has(link.id));
    if (gone) return { state: 'damaged', reason: `it needs point ${gone.sequence}, which is missing from the repository` };
  } else {
    let parentId = entry.manifest.parentId;
    for (let step = 0; parentId !== null && step <= entries.length; step++) {
      const parent = byId.get(parentId);
      if (!parent) return { state: 'damaged', reason: `it needs point ${parentId}, which is missing from the repository` };
      if (!parent.manifest || parent.damage !== null)
        return { state: 'damaged', reason: `it needs point ${parent.sequence}, which is damaged: ${parent.damage}` };
      parentId = parent.manifest.parentId;
    }
  }
  return entry.hashFile ? { state: 'ok', reason: null } : { state: 'legacy', reason: LEGACY };
}
