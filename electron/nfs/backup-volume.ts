// A VM's datastore folder made from a restore point, nothing restored first: its configuration
// and a monolithicFlat descriptor per disk as plain files in the export folder, and the flat
// extents read block by block from the backup (with the point's merged block map held in
// memory) under a write cache.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { writeFlatDescriptor } from '../disks/vmdk-descriptor.ts';
import { parseVmx, rewriteVmx } from '../disks/vmx.ts';
import { resolvePoint } from '../repository/chain.ts';
import { PointDisk, type BlockDecoder } from '../repository/point-disk.ts';
import type { Repository } from '../repository/repository.ts';
import { LifeboatError } from '../errors.ts';
import { OverlayVolume, type VolumeFolders } from './volume.ts';
import { escapeGuestName } from '../../shared/guest-names.ts';

/** Blocks of each disk kept decompressed in memory when the decoder brings no shared cache (the
 * engine's does: then every session's blocks share its one bound). */
const CACHE_BLOCKS = 64;
/** Blocks decoded ahead of a sequential reader (a boot, a migration, a copy). */
const READ_AHEAD = 8;

/** The flat extent's name beside a disk's descriptor name. */
export function flatNameOf(descriptorName: string): string {
  return `${basename(descriptorName, extname(descriptorName))}-flat.vmdk`;
}

/** The VM folder is named after the VM, as a host names the folder of a VM it creates. */
/** `decode`: where blocks are decompressed and checked (the engine's workers); here when absent.
 * `resume`: the folders are a session's that an engine served before it stopped: the VM folder
 * (the host may have changed its .vmx, made logs and nvram) and the write cache are kept as they
 * are, nothing is written, and the cache is reopened instead of started empty. */
export async function openBackupVolume(
  repository: Repository,
  vmId: string,
  pointId: string,
  where: Omit<VolumeFolders, 'vmFolder'>,
  decode?: BlockDecoder,
  options: { resume?: boolean } = {},
): Promise<OverlayVolume> {
  const point = await resolvePoint(repository, vmId, pointId);
  const manifest = point.point;
  // The VM's name and its .vmx file name come from the backup (outside input): escaped before they name files.
  const folders: VolumeFolders = { ...where, vmFolder: escapeGuestName(manifest.vmName).name };
  const vmPath = join(folders.exportFolder, folders.vmFolder);
  const resume = options.resume === true;
  if (resume) {
    for (const folder of [vmPath, folders.cacheFolder]) {
      const found = await stat(folder).catch(() => null);
      if (!found?.isDirectory())
        throw new LifeboatError('not-found', `${folder} of the session is gone: what the guest wrote cannot be served again`);
    }
  } else {
    await mkdir(vmPath, { recursive: true });
    await mkdir(folders.cacheFolder, { recursive: true });
  }
  const descriptorOf = (fileName: string): string => `${escapeGuestName(basename(fileName, extname(fileName))).name}.vmdk`;
  // Written through the rewriter: it names the descriptors served here and says UTF-8, which
  // the text now is whatever charset the source .vmx declared.
  const vmx = parseVmx(manifest.vmConfig.text, `${manifest.vmName} configuration`);
  const vmxText = rewriteVmx(vmx, {
    displayName: vmx.displayName,
    diskFiles: new Map(manifest.disks.map((disk) => [disk.key, descriptorOf(disk.fileName)])),
    newIdentity: false,
  });
  if (!resume) await writeFile(join(vmPath, escapeGuestName(basename(manifest.vmConfig.fileName)).name), vmxText, { flag: 'wx' });
  const bases: { name: string; disk: PointDisk }[] = [];
  try {
    for (const disk of manifest.disks) {
      const descriptor = descriptorOf(disk.fileName);
      if (!resume) await writeFile(join(vmPath, descriptor), writeFlatDescriptor(disk.capacity, flatNameOf(descriptor)), { flag: 'wx' });
      bases.push({
        name: flatNameOf(descriptor),
        disk: new PointDisk(point, disk.key, { cacheBlocks: CACHE_BLOCKS, ...(decode ? { decode, readAhead: READ_AHEAD } : {}) }),
      });
    }
    return await OverlayVolume.open(manifest.vmName, folders, bases, { resume });
  } catch (error) {
    for (const base of bases) await base.disk.close().catch(() => undefined);
    throw error;
  }
}
