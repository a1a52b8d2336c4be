// LVM2 on loop devices for the volume-layer tests, without device-mapper (this kernel has
// none): LVs are made with activation off and never zeroed, and a file system image is written
// into an LV's extents at the places `lvs --segments` reports. Only this test's own loop
// devices are visible to LVM (a filter), so other tests' PVs never mix in.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, symlink, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { run, withMount } from './ext4-images.ts';

const MIB = 1024 * 1024;

export const lvmEnv = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' };

export class LoopLvm {
  readonly devices: string[] = [];
  private readonly groups: string[] = [];

  /** A loop device on an image, or on a window of it (a partition). */
  attach(image: string, window?: { offset: number; size: number }): string {
    const args = window ? ['-o', String(window.offset), '--sizelimit', String(window.size)] : [];
    const device = execFileSync('losetup', ['-f', '--show', ...args, image], { encoding: 'utf8' }).trim();
    this.devices.push(device);
    return device;
  }

  private config(): string {
    const accept = this.devices.map((device) => `"a|^${device}$|"`).join(',');
    return `global{activation=0} devices{obtain_device_list_from_udev=0 filter=[${accept},"r|.*|"]} backup{backup=0 archive=0}`;
  }

  /** An lvm command (pvcreate, vgcreate, lvcreate…) seeing only this test's devices. */
  run(command: string, ...args: string[]): string {
    if (command === 'vgcreate' || command === 'vgcfgrestore')
      this.groups.push(args.filter((arg) => !arg.startsWith('-')).at(command === 'vgcreate' ? 0 : -1) ?? '');
    return execFileSync('lvm', [command, '--config', this.config(), ...args], {
      encoding: 'utf8',
      env: lvmEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Rows of a report command (lvs, pvs, vgs) split on '|'. */
  report(command: string, ...args: string[]): string[][] {
    return this.run(command, '--noheadings', '--nosuffix', '--units', 'b', '--separator', '|', ...args)
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .map((line) => line.split('|').map((field) => field.trim()));
  }

  /** Writes an image into an LV's extents: segment by segment, stripe chunk by stripe chunk, as
   * `lvs --segments` lays them out on the PVs (pe_start from pvs, extent size from vgs). */
  async writeIntoLv(vg: string, lv: string, image: string): Promise<void> {
    const content = await readFile(image);
    const [extentRow] = this.report('vgs', '-o', 'vg_extent_size', vg);
    const extentSize = Number(extentRow?.[0]);
    const peStart = new Map(this.report('pvs', '-o', 'pv_name,pe_start').map(([name, start]) => [name as string, Number(start)]));
    const segments = this.report('lvs', '--segments', '-o', 'seg_start_pe,seg_size_pe,stripes,stripe_size,seg_pe_ranges', `${vg}/${lv}`);
    const handles = new Map<string, FileHandle>();
    try {
      for (const [startPe, sizePe, stripeCount, stripeSizeText, ranges] of segments) {
        const stripes = (ranges as string).split(/\s+/).map((range) => {
          const match = /^(.*):(\d+)-(\d+)$/.exec(range);
          if (!match) throw new Error(`unexpected PE range ${range}`);
          return { device: match[1] as string, first: Number(match[2]) };
        });
        const count = Number(stripeCount);
        const segmentBytes = Number(sizePe) * extentSize;
        const chunk = count === 1 ? segmentBytes : Number(stripeSizeText);
        const base = Number(startPe) * extentSize;
        for (let at = 0; at < segmentBytes && base + at < content.length; at += chunk) {
          const index = Math.floor(at / chunk);
          const stripe = stripes[index % count] as { device: string; first: number };
          const onStripe = Math.floor(index / count) * chunk;
          const handle = handles.get(stripe.device) ?? (await open(stripe.device, 'r+'));
          handles.set(stripe.device, handle);
          const length = Math.min(chunk, content.length - base - at);
          await handle.write(content, base + at, length, (peStart.get(stripe.device) ?? 0) + stripe.first * extentSize + onStripe);
        }
      }
      for (const handle of handles.values()) await handle.sync();
    } finally {
      for (const handle of handles.values()) await handle.close();
    }
  }

  /** Removes this test's VGs (best effort) and detaches its loop devices. */
  close(): void {
    for (const vg of this.groups) {
      try {
        this.run('vgremove', '-ff', vg);
      } catch {
        // already gone, or its PVs were damaged on purpose
      }
    }
    for (const device of this.devices) execFileSync('losetup', ['-d', device]);
  }
}

export async function withLvm<T>(use: (lvm: LoopLvm) => Promise<T>): Promise<T> {
  const lvm = new LoopLvm();
  try {
    return await use(lvm);
  } finally {
    lvm.close();
  }
}

export async function emptyImage(path: string, mib: number): Promise<void> {
  await writeFile(path, '');
  await truncate(path, mib * MIB);
}

/** An ext4 image of `mib` MiB holding a few files, folders and a symlink, written by the kernel. */
export async function populatedExt4(path: string, mib: number, seed: string, bigFile = 3 * MIB + 12345): Promise<void> {
  await emptyImage(path, mib);
  run('mke2fs', '-q', '-F', '-t', 'ext4', '-L', seed, path);
  await withMount(path, 'rw', async (folder) => {
    await mkdir(join(folder, 'etc/deep/er'), { recursive: true });
    await writeFile(join(folder, 'etc/hostname'), `${seed}\n`);
    await writeFile(join(folder, 'etc/deep/er/big.bin'), randomBytes(bigFile));
    await writeFile(join(folder, 'small.txt'), `a file of ${seed}`);
    await symlink('etc/hostname', join(folder, 'link'));
  });
}

/** A partition's first sector and sector count, as sgdisk reports them. */
export function sgdiskPartition(image: string, index: number): { start: number; size: number } {
  const info = run('sgdisk', '-i', String(index), image);
  const first = Number(/First sector: (\d+)/.exec(info)?.[1]);
  const last = Number(/Last sector: (\d+)/.exec(info)?.[1]);
  return { start: first, size: last - first + 1 };
}
