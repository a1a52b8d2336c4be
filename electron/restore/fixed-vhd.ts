// A disk of a point restored as a fixed VHD: its bytes through the block workers, sized to a
// whole MiB, then the VHD footer (as Azure imports a disk).
import { open } from 'node:fs/promises';
import { vhdFooter, vhdSize } from '../disks/vhd.ts';
import { restoreDiskToFile, type DiskTransfer } from './disk-transfer.ts';

/** Returns the data bytes written; the file is vhdSize(capacity) + 512 bytes long. */
export async function restoreFixedVhd(transfer: DiskTransfer): Promise<number> {
  const written = await restoreDiskToFile(transfer);
  const size = vhdSize(transfer.disk.capacity);
  const handle = await open(transfer.path, 'r+');
  try {
    await handle.truncate(size);
    await handle.write(vhdFooter(size), 0, 512, size);
  } finally {
    await handle.close();
  }
  return written;
}
