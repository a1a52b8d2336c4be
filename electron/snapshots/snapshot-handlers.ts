// The storage-array channels: arrays and their snapshots, and the restores of a VM or of items
// from a snapshot (targets checked first).
import type { Catalog } from '../catalog/catalog.ts';
import type { ChannelHandlers } from '../handlers/handler-registry.ts';
import { checkOnDisk } from '../fs/target-check.ts';
import type { TargetChecks } from '../restore/target-checks.ts';
import type { SnapshotService } from './snapshot-service.ts';

type SnapshotChannel =
  | 'arrays.create'
  | 'arrays.list'
  | 'arrays.show'
  | 'arrays.snapshot'
  | 'snapshots.list'
  | 'restore.fromSnapshot'
  | 'files.restoreFromSnapshot';

export function snapshotHandlers(snapshots: SnapshotService, catalog: Catalog, checks: TargetChecks): ChannelHandlers<SnapshotChannel> {
  return {
    // An array's folder may be in the home (its default is); it must be on a disk all the same.
    'arrays.create': async (request, { actor }) =>
      snapshots.create(
        request.path === undefined ? request : { ...request, path: (await checkOnDisk(request.path, 'the array folder')).absolute },
        actor,
      ),
    'arrays.list': async () => snapshots.list(),
    'arrays.show': async ({ name }) => snapshots.view(snapshots.array(name)),
    'arrays.snapshot': async ({ volume }, { actor }) => snapshots.snapshot(volume, actor),
    'snapshots.list': async ({ vm }) => catalog.arrays.snapshots(vm),
    'restore.fromSnapshot': async (request, { actor }) => ({
      job: snapshots.startRestore(await checks.checkedLocalTarget(request), actor),
    }),
    'files.restoreFromSnapshot': async ({ target, ...request }, { actor }) => ({
      job: snapshots.startItemRestore(
        {
          ...request,
          targetPath: await checks.checkLocalPath(target.path, 'the restore target'),
          protectedPaths: await checks.protectedPaths(),
        },
        actor,
      ),
    }),
  };
}
