// A VM's datastore folder made from a restore point, nothing restored first: its configuration,
// a monolithicFlat descriptor per disk, and the flat extents read block by block from the
// backup (with the point's merged block map held in memory), all under a write cache.
import { mkdir } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { BytesDisk } from '../disks/bytes-disk.ts';
import type { Disk } from '../disks/disk.ts';
import { writeFlatDescriptor } from '../disks/vmdk-descriptor.ts';
import { resolvePoint } from '../repository/chain.ts';
import { PointDisk } from '../repository/point-disk.ts';
import type { Repository } from '../repository/repository.ts';
import { OverlayVolume } from './volume.ts';

/** Blocks of each disk kept decompressed in memory: a guest's hot blocks read once. */
const CACHE_BLOCKS = 64;

export async function openBackupVolume(repository: Repository, vmId: string, pointId: string, cacheFolder: string): Promise<{ volume: OverlayVolume }> {
  const point = await resolvePoint(repository, vmId, pointId);
  await mkdir(cacheFolder, { recursive: true });
  const manifest = point.point;
  const disks = manifest.disks.map((disk) => new PointDisk(point, disk.key, CACHE_BLOCKS));
  const bases: { name: string; disk: Disk }[] = [{ name: manifest.vmConfig.fileName, disk: new BytesDisk(Buffer.from(manifest.vmConfig.text), manifest.vmConfig.fileName) }];
  manifest.disks.forEach((disk, index) => {
    const stem = basename(disk.fileName, extname(disk.fileName));
    const flat = `${stem}-flat.vmdk`;
    bases.push({ name: `${stem}.vmdk`, disk: new BytesDisk(Buffer.from(writeFlatDescriptor(disk.capacity, flat)), `${stem}.vmdk`) });
    bases.push({ name: flat, disk: disks[index] as PointDisk });
  });
  return { volume: new OverlayVolume(manifest.vmName, cacheFolder, bases) };
}
