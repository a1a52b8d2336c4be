// A lab guest disk: GPT with an ext4 root and a FAT data partition holding real files, built
// without root (mke2fs -d, mkfs.fat + mcopy, sgdisk) and spliced into one raw image.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tool } from './tools.ts';

const MIB = 1024 * 1024;
const SECTOR = 512;

export type GuestLayout = {
  rawPath: string;
  capacity: number;
  ext4: { image: string; offset: number };
  fat: { image: string; offset: number };
};

async function splice(target: string, source: string, offset: number): Promise<void> {
  const input = await open(source, 'r');
  const output = await open(target, 'r+');
  try {
    const buffer = Buffer.allocUnsafe(4 * MIB);
    let position = 0;
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      await output.write(buffer, 0, bytesRead, offset + position);
      position += bytesRead;
    }
  } finally {
    await input.close();
    await output.close();
  }
}

/** Files a guest might hold: text, a compressible log, and incompressible bytes. */
async function seedFiles(folder: string, vmName: string): Promise<void> {
  await mkdir(join(folder, 'etc'), { recursive: true });
  await mkdir(join(folder, 'var', 'log'), { recursive: true });
  await mkdir(join(folder, 'home', 'operator'), { recursive: true });
  await writeFile(join(folder, 'etc', 'hostname'), `${vmName}\n`);
  await writeFile(join(folder, 'etc', 'motd'), `Welcome to ${vmName}, a Lifeboat lab VM.\n`);
  const log = Array.from(
    { length: 4000 },
    (_, i) => `2026-11-01T00:${String(i % 60).padStart(2, '0')}:00Z ${vmName} service[${i}]: request handled in ${i % 97} ms`,
  ).join('\n');
  await writeFile(join(folder, 'var', 'log', 'service.log'), log);
  await writeFile(join(folder, 'home', 'operator', 'blob.bin'), randomBytes(3 * MIB));
  await writeFile(join(folder, 'home', 'operator', 'notes.txt'), 'Restore drills every quarter.\n');
  await guestModes(folder);
}

/** A guest's usual modes (folders 0755, files 0644), not the engine's private ones: mke2fs -d
 * and debugfs copy the host file's mode into the image. */
async function guestModes(path: string): Promise<void> {
  const info = await stat(path);
  await chmod(path, info.isDirectory() ? 0o755 : 0o644);
  if (info.isDirectory()) for (const name of await readdir(path)) await guestModes(join(path, name));
}

export async function buildGuestDisk(workDir: string, vmName: string, diskMib: number): Promise<GuestLayout> {
  const capacity = diskMib * MIB;
  const rawPath = join(workDir, 'disk.raw');
  const files = join(workDir, 'files');
  await seedFiles(files, vmName);
  const sectors = capacity / SECTOR;
  const extStart = 2048;
  const extSectors = Math.floor(((sectors - 4096) * 0.6) / 2048) * 2048;
  const fatStart = extStart + extSectors;
  const fatEnd = sectors - 34 - 1;
  const fatSectors = Math.floor((fatEnd - fatStart + 1) / 2048) * 2048;
  const handle = await open(rawPath, 'w');
  await handle.truncate(capacity);
  await handle.close();
  await tool('sgdisk', [
    '-n',
    `1:${extStart}:${extStart + extSectors - 1}`,
    '-t',
    '1:8300',
    '-c',
    '1:root',
    '-n',
    `2:${fatStart}:${fatStart + fatSectors - 1}`,
    '-t',
    '2:0700',
    '-c',
    '2:data',
    rawPath,
  ]);
  const ext4 = join(workDir, 'root.ext4');
  await tool('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'root', '-d', files, ext4, `${(extSectors * SECTOR) / 1024}k`]);
  const fat = join(workDir, 'data.fat');
  await tool('mkfs.fat', ['-C', '-n', 'DATA', fat, String((fatSectors * SECTOR) / 1024)]);
  await tool('mcopy', ['-i', fat, '-s', join(files, 'etc'), join(files, 'home'), '::/']);
  const layout: GuestLayout = {
    rawPath,
    capacity,
    ext4: { image: ext4, offset: extStart * SECTOR },
    fat: { image: fat, offset: fatStart * SECTOR },
  };
  await spliceAll(layout);
  return layout;
}

export async function spliceAll(layout: GuestLayout): Promise<void> {
  await splice(layout.rawPath, layout.ext4.image, layout.ext4.offset);
  await splice(layout.rawPath, layout.fat.image, layout.fat.offset);
}

/** The changes between two restore points: files added and changed in both file systems. */
export async function changeGuest(layout: GuestLayout, workDir: string, generation: number): Promise<void> {
  const report = join(workDir, `report-${generation}.txt`);
  await writeFile(report, `Quarterly report, generation ${generation}\n${'figures '.repeat(2000)}\n`);
  const blob = join(workDir, `upload-${generation}.bin`);
  await writeFile(blob, randomBytes(MIB));
  await guestModes(report);
  await guestModes(blob);
  await tool('debugfs', ['-w', '-R', `write ${report} /home/operator/report-${generation}.txt`, layout.ext4.image]);
  await tool('debugfs', ['-w', '-R', `write ${blob} /home/operator/upload-${generation}.bin`, layout.ext4.image]);
  await tool('mcopy', ['-o', '-i', layout.fat.image, report, `::/report-${generation}.txt`]);
  await spliceAll(layout);
}
