// Child process: opens a fresh write cache in the folders given as JSON and writes the planned
// stream, printing "ack N" once write N has returned (the moment an NFS reply would go out),
// until it is killed.
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import { OverlayVolume, VM_FOLDER_ID, type VolumeFolders } from '../../electron/nfs/volume.ts';
import { plannedWrite, writerBase, WRITER_DISK } from './cache-writer.ts';

const folders = JSON.parse(process.argv[2] ?? '{}') as VolumeFolders;
const volume = await OverlayVolume.open('vm', folders, [{ name: WRITER_DISK, disk: new BytesDisk(writerBase(), 'base') }]);
const id = volume.lookup(VM_FOLDER_ID, WRITER_DISK);
process.stdout.write(`ready ${id}\n`);
for (let index = 0; index < 100_000; index++) {
  const { offset, bytes, stable } = plannedWrite(index);
  await volume.write(id, offset, bytes, stable);
  process.stdout.write(`ack ${index}\n`);
}
