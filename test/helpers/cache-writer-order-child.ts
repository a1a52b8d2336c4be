// Child process run under strace: a few writes into a fresh write cache, one at a time, each
// preceded by a line "step N" on stdout (a synchronous write(2) on a pipe), so the system calls
// each write made can be told apart in the trace.
import { BytesDisk } from '../../electron/disks/bytes-disk.ts';
import { CHUNK, OverlayVolume, VM_FOLDER_ID, type VolumeFolders } from '../../electron/nfs/volume.ts';
import { ORDER_STEPS } from './cache-writer.ts';

const folders = JSON.parse(process.argv[2] ?? '{}') as VolumeFolders;
const volume = await OverlayVolume.open('vm', folders, [
  { name: 'disk-flat.vmdk', disk: new BytesDisk(Buffer.alloc(6 * CHUNK, 9), 'base') },
]);
const id = volume.lookup(VM_FOLDER_ID, 'disk-flat.vmdk');
for (const [index, step] of ORDER_STEPS.entries()) {
  process.stdout.write(`step ${index}\n`);
  await volume.write(id, step.offset, Buffer.alloc(step.length, 1 + index), step.stable);
}
process.stdout.write('step end\n');
await volume.close();
