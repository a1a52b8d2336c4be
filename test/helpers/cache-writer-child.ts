// Child process: opens a fresh write cache in the folders given as JSON and writes the planned
// stream, printing "ack N" once write N has returned (the moment an NFS reply would go out),
// then waiting for a line ("go") on stdin before the next write: the parent kills it at an exact
// point, with no write in flight.
import { createInterface } from 'node:readline';
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import { OverlayVolume, VM_FOLDER_ID, type VolumeFolders } from '../../electron/nfs/volume.ts';
import { plannedWrite, writerBase, WRITER_DISK } from './cache-writer.ts';

const folders = JSON.parse(process.argv[2] ?? '{}') as VolumeFolders;
const volume = await OverlayVolume.open('vm', folders, [{ name: WRITER_DISK, disk: new BytesDisk(writerBase(), 'base') }]);
const id = volume.lookup(VM_FOLDER_ID, WRITER_DISK);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
process.stdout.write(`ready ${id}\n`);
for (let index = 0; index < 100_000; index++) {
  const { offset, bytes, stable } = plannedWrite(index);
  await volume.write(id, offset, bytes, stable);
  process.stdout.write(`ack ${index}\n`);
  if ((await lines.next()).done) break;
}
