// `lifeboat lab create`: VMs in VMware layout whose disks are real partitioned images, backed
// up several times with changes in between, so a new user has something real to restore. A
// client of the engine like any other: it writes the VM folders and asks for their backups
// through the contract (the CLI's connection, or an in-process one in tests).
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { finishedJobStates } from '../../shared/domain.ts';
import { formatSeconds } from '../../shared/format.ts';
import { jobEnd, type JobWatcher } from '../../shared/job-end.ts';
import { LifeboatError } from '../errors.ts';
import { buildGuestDisk, changeGuest, type GuestLayout } from './guest-disk.ts';
import { tool } from './tools.ts';

export type LabOptions = { vms: number; points: number; diskMib: number };
export type LabVm = { name: string; folder: string; format: 'monolithicFlat' | 'monolithicSparse' };

const names = ['web', 'db', 'mail', 'files', 'dc', 'app', 'proxy', 'build'];

export function vmxText(name: string, disks: string[], biosUuid: string): string {
  const lines = [
    '.encoding = "UTF-8"',
    'config.version = "8"',
    'virtualHW.version = "19"',
    `displayName = "${name}"`,
    'guestOS = "debian12-64"',
    'memSize = "2048"',
    'numvcpus = "2"',
    `uuid.bios = "${biosUuid}"`,
    'scsi0.present = "TRUE"',
    'scsi0.virtualDev = "pvscsi"',
    ...disks.flatMap((file, unit) => [`scsi0:${unit}.present = "TRUE"`, `scsi0:${unit}.fileName = "${file}"`]),
    'ethernet0.present = "TRUE"',
    'ethernet0.networkName = "VM Network"',
    'ethernet0.virtualDev = "vmxnet3"',
  ];
  return `${lines.join('\n')}\n`;
}

async function exportDisk(layout: GuestLayout, folder: string, base: string, format: LabVm['format']): Promise<string> {
  const file = `${base}.vmdk`;
  await rm(join(folder, file), { force: true });
  await rm(join(folder, `${base}-flat.vmdk`), { force: true });
  await tool('qemu-img', ['convert', '-f', 'raw', '-O', 'vmdk', '-o', `subformat=${format}`, layout.rawPath, join(folder, file)]);
  return file;
}

/** The engine went away while the lab waited for one of its backups. */
function lostEngine(reason: string): Error {
  return new LifeboatError('unavailable', `lost the engine while making the lab (${reason})`);
}

/** Makes the lab's VMs in `labRoot` (the home's lab folder) and backs each up `points` times
 * through `client`; returns once their backups and the file index jobs those started have ended. */
export async function createLab(
  client: JobWatcher,
  labRoot: string,
  options: LabOptions,
  onProgress: (line: string) => void = () => undefined,
): Promise<LabVm[]> {
  if (options.vms < 1 || options.vms > 50) throw new LifeboatError('bad-request', '--vms takes 1 to 50');
  if (options.points < 1 || options.points > 20) throw new LifeboatError('bad-request', '--points takes 1 to 20');
  if (options.diskMib < 16 || options.diskMib > 65536) throw new LifeboatError('bad-request', '--disk-mib takes 16 to 65536');
  const vms: LabVm[] = [];
  const vmIds = new Set<string>();
  // The lab's backups, counted, with the time the rest should take at the pace so far.
  const backups = options.vms * options.points;
  const started = Date.now();
  let done = 0;
  const counted = (line: string): void => {
    const left = done > 0 ? `, about ${formatSeconds((((Date.now() - started) / done) * (backups - done)) / 1000)} left` : '';
    onProgress(`[${done}/${backups} backups${left}] ${line}`);
  };
  for (let i = 0; i < options.vms; i++) {
    const name = `lab-${names[i % names.length]}-${String(i + 1).padStart(2, '0')}`;
    const folder = join(labRoot, name);
    const work = join(labRoot, '.work', name);
    await rm(folder, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
    await mkdir(folder, { recursive: true });
    await mkdir(work, { recursive: true });
    const format: LabVm['format'] = i % 2 === 0 ? 'monolithicFlat' : 'monolithicSparse';
    counted(`${name}: building a ${options.diskMib} MiB GPT disk (ext4 + FAT), ${format}`);
    const layout = await buildGuestDisk(work, name, options.diskMib);
    const biosUuid = randomUUID().replace(/-/g, '').replace(/(..)/g, '$1 ').trim();
    for (let point = 1; point <= options.points; point++) {
      if (point > 1) await changeGuest(layout, work, point);
      const disk = await exportDisk(layout, folder, name, format);
      await writeFile(join(folder, `${name}.vmx`), vmxText(name, [disk], biosUuid));
      const { job } = await client.invoke('backup.start', { source: { kind: 'local', path: folder } });
      if (job.vmId !== null) vmIds.add(job.vmId);
      const ended = await jobEnd(client, job.id, lostEngine);
      if (ended.state !== 'succeeded') throw new LifeboatError('internal', `lab backup of ${name} failed: ${ended.error}`);
      done += 1;
      counted(`${name}: restore point ${point} of ${options.points} backed up`);
    }
    vms.push({ name, folder, format });
  }
  await rm(join(labRoot, '.work'), { recursive: true, force: true });
  // The file index jobs each backup started: the lab's points are searchable once it is made.
  onProgress('indexing the files of the backups, so the lab can be searched');
  for (const job of await client.invoke('jobs.list', {})) {
    if (job.vmId !== null && vmIds.has(job.vmId) && !finishedJobStates.has(job.state)) await jobEnd(client, job.id, lostEngine);
  }
  return vms;
}
