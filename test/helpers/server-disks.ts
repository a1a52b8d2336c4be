// VM folders whose disks are laid out as the default installers of real servers lay them out
// (Ubuntu Server, RHEL/Rocky, Fedora, Windows Server), built with the real tools: sgdisk, mkfs.*,
// lvm2, mkswap, mkntfs; Linux file systems populated through kernel loop mounts, NTFS through
// ntfs-3g, FAT through mtools (this kernel has no vfat).
//
// Each file system is made in a sparse image of its own, populated, unmounted, then written into
// the VM's raw disk with `dd conv=sparse` at its partition's offset, or, inside LVM, into its
// LV's extents at the offsets lvm2 reports (`lvs --segments`, `pvs -o pe_start`): this kernel has
// no device-mapper, so LVs are never activated. The images are kept: the tests mount them
// read-only to get the kernel's view of exactly the bytes the disk holds.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, mkdtemp, open, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { vmxText } from '../../electron/lab/create-lab.ts';
import { qemuImg } from './env.ts';
import { run } from './ext4-images.ts';

const MIB = 1024 * 1024;
const SECTOR = 512;
/** One fixed time for every file, so trees compare whatever the clock says. */
const GUEST_TIME = new Date('2026-10-01T08:30:00Z');

export type FsKind = 'fat' | 'ext4' | 'xfs' | 'btrfs' | 'ntfs';

/** A file system of the VM, where the engine shows it and how the kernel shows the same bytes. */
export type ServerFileSystem = {
  /** Where the engine lists it: /disk0/part2, /lvm/rhel/root. */
  path: string;
  kind: FsKind;
  label: string;
  /** Its size in bytes: the partition's, or the LV's as lvm2 reports it. */
  size: number;
  /** The image as written into the disk (a sparse file of its own). */
  image: string;
  /** The read-only view the tests compare with: a kernel loop mount of `image` with these options
   * (btrfs: subvolid=5, the top level), ntfs-3g for NTFS, or, for FAT, the folder mcopy copied in. */
  view: { mount: string } | { ntfs3g: true } | { staged: string };
  /** The names of one file (hard links), relative to the volume root. */
  links?: string[];
  /** A file with holes, relative to the volume root. */
  sparse?: string;
  /** NTFS alternate data streams: `file:stream` relative to the volume root. */
  streams?: string[];
};

/** A volume with no files: what the listing must call it (matched against its `target`). */
export type ServerBlankVolume = { path: string; what: RegExp; size: number };

export type ServerVm = {
  name: string;
  /** The VM folder: a .vmx and one .vmdk per disk, as the engine backs it up. */
  folder: string;
  raws: string[];
  fileSystems: ServerFileSystem[];
  blanks: ServerBlankVolume[];
  /** Names the index must find, with the path of one hit each (`*` in some). */
  searches: { pattern: string; hit: string }[];
};

type PartitionSpec = { name: string; code: string; mib: number };
type Placed = { raw: string; offset: number; size: number };

// ---------------------------------------------------------------------------------------------
// Disks, partitions, placing images

async function sparseFile(path: string, bytes: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'w');
  await handle.truncate(bytes);
  await handle.close();
}

/** A GPT disk with the partitions in order from 1 MiB, each a whole number of MiB; their offsets. */
async function gptDisk(raw: string, parts: PartitionSpec[]): Promise<Placed[]> {
  const totalMib = 1 + parts.reduce((sum, part) => sum + part.mib, 0) + 1;
  await sparseFile(raw, totalMib * MIB);
  const args: string[] = [];
  const placed: Placed[] = [];
  let start = MIB;
  for (const [index, part] of parts.entries()) {
    const number = index + 1;
    const first = start / SECTOR;
    const last = (start + part.mib * MIB) / SECTOR - 1;
    args.push('-n', `${number}:${first}:${last}`, '-t', `${number}:${part.code}`, '-c', `${number}:${part.name}`);
    placed.push({ raw, offset: start, size: part.mib * MIB });
    start += part.mib * MIB;
  }
  run('sgdisk', ...args, raw);
  return placed;
}

/** Writes `length` bytes of `image` from `from` into `raw` at `to`; zeros are skipped, the disk stays sparse. */
function ddInto(image: string, raw: string, to: number, from = 0, length?: number): void {
  run(
    'dd',
    `if=${image}`,
    `of=${raw}`,
    'bs=1M',
    'conv=sparse,notrunc',
    'iflag=skip_bytes,count_bytes',
    'oflag=seek_bytes',
    `skip=${from}`,
    `seek=${to}`,
    ...(length === undefined ? [] : [`count=${length}`]),
    'status=none',
  );
}

/** Runs `use` on a folder where the image is mounted (ntfs-3g for NTFS), always unmounted after. */
export async function withImageMounted<T>(
  image: string,
  kind: 'ext4' | 'xfs' | 'btrfs' | 'ntfs',
  options: string,
  use: (folder: string) => Promise<T>,
): Promise<T> {
  const folder = await mkdtemp(`${image}.mnt-`);
  if (kind === 'ntfs') run('ntfs-3g', '-o', options, image, folder);
  else run('mount', '-t', kind, '-o', `loop,${options}`, image, folder);
  try {
    return await use(folder);
  } finally {
    run('umount', folder);
    await rm(folder, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// LVM without device-mapper

type LvSpec = { name: string; /** MiB, or the rest of the VG */ mib: number | 'rest' };
type LvExtents = { name: string; size: number; segments: { lvOffset: number; raw: string; rawOffset: number; length: number }[] };

/** lvm2 run on our own loop devices only: other tests make PVs with the same VG names at the same time. */
function lvm(devices: string[], command: string, ...args: string[]): string {
  const accept = devices.map((device) => `"a|^${device}$|"`).join(',');
  const config = `global{activation=0} devices{obtain_device_list_from_udev=0 use_devicesfile=0 filter=[${accept},"r|.*|"]} backup{backup=0 archive=0}`;
  return execFileSync(command, ['--config', config, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' },
  });
}

type Report = { report: Record<string, Record<string, string>[]>[] };
const rows = (text: string, kind: string): Record<string, string>[] => (JSON.parse(text) as Report).report[0]?.[kind] ?? [];

/** A VG on the given PV partitions (in order) with linear LVs made in order; where each LV's extents lie in the raw disks. */
async function makeVolumeGroup(pvs: Placed[], vg: string, lvs: LvSpec[]): Promise<LvExtents[]> {
  const devices: string[] = [];
  try {
    for (const pv of pvs)
      devices.push(run('losetup', '-f', '--show', '-o', String(pv.offset), '--sizelimit', String(pv.size), pv.raw).trim());
    for (const device of devices) lvm(devices, 'pvcreate', '-q', device);
    lvm(devices, 'vgcreate', '-q', vg, ...devices);
    for (const lv of lvs) {
      const size = lv.mib === 'rest' ? ['-l', '100%FREE'] : ['-L', `${lv.mib}M`];
      lvm(devices, 'lvcreate', '-q', '--activate', 'n', '--zero', 'n', '-y', ...size, '-n', lv.name, vg, ...devices);
    }
    const extent = Number(
      rows(lvm(devices, 'vgs', '-o', 'vg_extent_size', '--units', 'b', '--nosuffix', '--reportformat', 'json', vg), 'vg')[0]
        ?.vg_extent_size,
    );
    const peStart = new Map(
      rows(lvm(devices, 'pvs', '-o', 'pv_name,pe_start', '--units', 'b', '--nosuffix', '--reportformat', 'json'), 'pv').map((row) => [
        row.pv_name,
        Number(row.pe_start),
      ]),
    );
    const segments = rows(
      lvm(
        devices,
        'lvs',
        '--segments',
        '-o',
        'lv_name,seg_start_pe,seg_pe_ranges',
        '--units',
        'b',
        '--nosuffix',
        '--reportformat',
        'json',
        vg,
      ),
      'seg',
    );
    return lvs.map((lv) => {
      const out: LvExtents = { name: lv.name, size: 0, segments: [] };
      for (const segment of segments.filter((row) => row.lv_name === lv.name)) {
        let lvOffset = Number(segment.seg_start_pe) * extent;
        for (const range of (segment.seg_pe_ranges ?? '').split(' ').filter(Boolean)) {
          const match = /^(.+):(\d+)-(\d+)$/.exec(range);
          if (!match) throw new Error(`lvs printed an unexpected PE range: ${range}`);
          const pv = pvs[devices.indexOf(match[1] as string)];
          const start = peStart.get(match[1] as string);
          if (!pv || start === undefined) throw new Error(`lvs named a PV that is not ours: ${range}`);
          const length = (Number(match[3]) - Number(match[2]) + 1) * extent;
          out.segments.push({ lvOffset, raw: pv.raw, rawOffset: pv.offset + start + Number(match[2]) * extent, length });
          lvOffset += length;
        }
      }
      out.size = out.segments.reduce((sum, segment) => sum + segment.length, 0);
      return out;
    });
  } finally {
    for (const device of devices) run('losetup', '-d', device);
  }
}

/** Writes the image into the LV's extents, then reads the head of each extent run back from its
 * disk: it must hold the image's bytes (a check of the offsets, cheap enough for every build). */
async function ddIntoLv(image: string, lv: LvExtents): Promise<void> {
  for (const segment of lv.segments) ddInto(image, segment.raw, segment.rawOffset, segment.lvOffset, segment.length);
  const source = await open(image, 'r');
  try {
    if ((await source.stat()).size !== lv.size) throw new Error(`${image} is not the size of LV ${lv.name}`);
    for (const segment of lv.segments) {
      const length = Math.min(MIB, segment.length);
      const [want, got] = [Buffer.alloc(length), Buffer.alloc(length)];
      await source.read(want, 0, length, segment.lvOffset);
      const disk = await open(segment.raw, 'r');
      try {
        await disk.read(got, 0, length, segment.rawOffset);
      } finally {
        await disk.close();
      }
      if (!want.equals(got)) throw new Error(`LV ${lv.name}'s extents at ${segment.rawOffset} of ${segment.raw} do not hold its image`);
    }
  } finally {
    await source.close();
  }
}

// ---------------------------------------------------------------------------------------------
// What the guests hold

type Tree = { links: string[]; sparse: string };

async function put(base: string, path: string, content: string | Buffer, mode = 0o644): Promise<void> {
  await mkdir(dirname(join(base, path)), { recursive: true });
  await writeFile(join(base, path), content);
  await chmod(join(base, path), mode);
}

/** A sparse file: data at the start and 8 MiB in, 16 MiB long. */
async function putSparse(base: string, path: string): Promise<void> {
  await mkdir(dirname(join(base, path)), { recursive: true });
  const handle = await open(join(base, path), 'w');
  try {
    await handle.write(Buffer.alloc(4096, 'lastlog head '), 0, 4096, 0);
    await handle.write(randomBytes(4096), 0, 4096, 8 * MIB);
    await handle.truncate(16 * MIB);
  } finally {
    await handle.close();
  }
}

/** Sets every file's and folder's times (symlinks keep theirs), deepest first. */
async function settle(base: string, paths: string[]): Promise<void> {
  for (const path of [...paths].sort().reverse()) await utimes(join(base, path), GUEST_TIME, GUEST_TIME);
}

const logLines = (host: string, lines: number): string =>
  Array.from({ length: lines }, (_, i) => `Oct  1 08:${String(i % 60).padStart(2, '0')}:00 ${host} systemd[1]: Started session ${i}.`).join(
    '\n',
  );

/** A Linux root: /etc, /var/log, /usr (a hard-linked binary, a folder of a few hundred files), a sparse lastlog. */
async function seedLinuxRoot(base: string, host: string, osRelease: string, withHome: boolean): Promise<Tree> {
  await put(base, 'etc/hostname', `${host}\n`);
  await put(base, 'etc/os-release', osRelease);
  await put(base, 'etc/fstab', '# /etc/fstab: static file system information.\n/dev/disk/by-uuid/1234 / ext4 defaults 0 1\n');
  await put(base, 'etc/ssh/sshd_config', 'PermitRootLogin no\nPasswordAuthentication no\n', 0o600);
  await symlink('/usr/share/zoneinfo/Etc/UTC', join(base, 'etc/localtime'));
  await put(base, 'var/log/syslog', logLines(host, 6000), 0o640);
  await putSparse(base, 'var/log/lastlog');
  await put(base, 'usr/bin/perl', randomBytes(300 * 1024), 0o755);
  await link(join(base, 'usr/bin/perl'), join(base, 'usr/bin/perl5.38.2'));
  await symlink('perl5.38.2', join(base, 'usr/bin/perl5'));
  for (let i = 0; i < 200; i++)
    await put(base, `usr/share/doc/package-${String(i).padStart(3, '0')}/copyright`, `Package ${i}\n${'License text. '.repeat(i % 40)}\n`);
  if (withHome) await seedHome(base, 'home');
  await mkdir(join(base, 'tmp'), { recursive: true });
  return { links: ['usr/bin/perl', 'usr/bin/perl5.38.2'], sparse: 'var/log/lastlog' };
}

async function seedHome(base: string, home: string): Promise<void> {
  await put(base, `${home}/admin/.bashrc`, 'export PATH=$HOME/bin:$PATH\n');
  await put(base, `${home}/admin/notes.txt`, 'Restore drills every quarter.\n');
  await put(base, `${home}/admin/backup.tar`, randomBytes(1536 * 1024));
  await put(base, `${home}/admin/.ssh/authorized_keys`, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE admin@laptop\n', 0o600);
}

/** Every path under a folder, for `settle`. */
function pathsUnder(base: string): string[] {
  return run('find', base, '-mindepth', '1', '!', '-type', 'l', '-printf', '%P\n').split('\n').filter(Boolean);
}

// ---------------------------------------------------------------------------------------------
// File systems

/** An ext4, XFS or btrfs image populated through a kernel loop mount. */
async function linuxFs(
  image: string,
  kind: 'ext4' | 'xfs' | 'btrfs',
  bytes: number,
  label: string,
  populate: (folder: string) => Promise<void>,
  mountOptions = 'rw',
): Promise<void> {
  await sparseFile(image, bytes);
  if (kind === 'ext4') run('mke2fs', '-q', '-F', '-t', 'ext4', '-L', label, image);
  else if (kind === 'xfs') run('mkfs.xfs', '-q', '-f', '-L', label, image);
  else run('mkfs.btrfs', '-q', '-f', '-L', label, image);
  await withImageMounted(image, kind, mountOptions, async (folder) => {
    await populate(folder);
    run('sync', '-f', folder);
  });
}

/** A FAT32 ESP holding the staged folder's files, copied in with mtools. */
async function espImage(image: string, bytes: number, staged: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [path, content] of Object.entries(files)) await put(staged, path, content);
  await rm(image, { force: true });
  await mkdir(dirname(image), { recursive: true });
  run('mkfs.fat', '-F', '32', '-s', '1', '-n', 'ESP', '-C', image, String(bytes / 1024));
  execFileSync(
    'mcopy',
    [
      '-s',
      '-i',
      image,
      ...run('ls', staged)
        .split('\n')
        .filter(Boolean)
        .map((name) => join(staged, name)),
      '::/',
    ],
    {
      env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
      stdio: 'ignore',
    },
  );
}

/** An NTFS image made by mkntfs (`sectorSize` 4096 → 4 KiB MFT records too), populated through ntfs-3g. */
async function ntfsImage(
  image: string,
  bytes: number,
  label: string,
  sectorSize: 512 | 4096,
  partitionOffset: number,
  populate: (folder: string) => Promise<void>,
): Promise<void> {
  await sparseFile(image, bytes);
  execFileSync(
    'mkntfs',
    ['-F', '-Q', '-q', '-L', label, '-s', String(sectorSize), '-p', String(partitionOffset / sectorSize), '-H', '255', '-S', '63', image],
    { stdio: 'ignore' },
  );
  await withImageMounted(image, 'ntfs', 'streams_interface=windows', populate);
}

// ---------------------------------------------------------------------------------------------
// The VM folder

async function vmFolder(vm: Omit<ServerVm, 'folder'>, work: string, uuidByte: number): Promise<ServerVm> {
  const folder = join(work, 'vm');
  await mkdir(folder, { recursive: true });
  const disks = vm.raws.map((raw, index) => {
    const file = `${vm.name}${index === 0 ? '' : `_${index}`}.vmdk`;
    qemuImg('convert', '-f', 'raw', '-O', 'vmdk', '-o', 'subformat=monolithicSparse', raw, join(folder, file));
    return file;
  });
  const hex = uuidByte.toString(16).padStart(2, '0');
  await writeFile(join(folder, `${vm.name}.vmx`), vmxText(vm.name, disks, `56 4d ${hex} 11 22 33 44 55-66 77 88 99 aa bb cc ${hex}`));
  return { ...vm, folder };
}

const grubEsp = (vendor: string): Record<string, string | Buffer> => ({
  [`EFI/${vendor}/shimx64.efi`]: randomBytes(200 * 1024),
  [`EFI/${vendor}/grubx64.efi`]: randomBytes(300 * 1024),
  [`EFI/${vendor}/grub.cfg`]: `search.fs_uuid 1234 root\nset prefix=($root)'/grub'\nconfigfile $prefix/grub.cfg\n`,
  'EFI/BOOT/BOOTX64.EFI': randomBytes(200 * 1024),
  'EFI/BOOT/fbx64.efi': randomBytes(80 * 1024),
});

/** A /boot: kernel, initrd, grub's files. */
async function seedBoot(base: string, kernel: string, initrd: string, grub: string): Promise<void> {
  await put(base, `vmlinuz-${kernel}`, randomBytes(1024 * 1024));
  await put(base, initrd, randomBytes(768 * 1024));
  await put(base, `config-${kernel}`, 'CONFIG_EXT4_FS=y\nCONFIG_XFS_FS=m\nCONFIG_BTRFS_FS=m\n'.repeat(200));
  await put(base, `${grub}/grub.cfg`, `menuentry 'Linux' {\n  linux /vmlinuz-${kernel} root=/dev/mapper/root ro\n  initrd /${initrd}\n}\n`);
  await put(base, `${grub}/grubenv`, `# GRUB Environment Block\nsaved_entry=0\n${'#'.repeat(900)}`);
  for (const module of ['ext2', 'xfs', 'btrfs', 'lvm', 'part_gpt', 'fat', 'normal', 'linux'])
    await put(base, `${grub}/x86_64-efi/${module}.mod`, randomBytes(4096 + module.length * 1000));
}

/** Ubuntu Server 24.04's guided layout with LVM: ESP, /boot ext4, a PV with VG ubuntu-vg (root ext4,
 * swap), some of the VG left free as the installer leaves it. */
export async function buildUbuntuServer(work: string, name = 'ubuntu-srv'): Promise<ServerVm> {
  const raw = join(work, 'disk0.raw');
  const [espPart, bootPart, pvPart] = await gptDisk(raw, [
    { name: 'EFI System Partition', code: 'EF00', mib: 40 },
    { name: '', code: '8300', mib: 64 },
    { name: '', code: '8E00', mib: 128 },
  ]);
  const [root, swap] = await makeVolumeGroup([pvPart as Placed], 'ubuntu-vg', [
    { name: 'ubuntu-lv', mib: 96 },
    { name: 'swap_1', mib: 16 },
  ]);
  const esp = join(work, 'esp.fat');
  await espImage(esp, (espPart as Placed).size, join(work, 'esp-files'), grubEsp('ubuntu'));
  const boot = join(work, 'boot.ext4');
  await linuxFs(boot, 'ext4', (bootPart as Placed).size, '', async (folder) => {
    await seedBoot(folder, '6.8.0-45-generic', 'initrd.img-6.8.0-45-generic', 'grub');
    await symlink('vmlinuz-6.8.0-45-generic', join(folder, 'vmlinuz'));
    await symlink('initrd.img-6.8.0-45-generic', join(folder, 'initrd.img'));
    await settle(folder, pathsUnder(folder));
  });
  const rootImage = join(work, 'root.ext4');
  let tree: Tree | undefined;
  await linuxFs(rootImage, 'ext4', (root as LvExtents).size, '', async (folder) => {
    tree = await seedLinuxRoot(folder, name, 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\n', true);
    await settle(folder, pathsUnder(folder));
  });
  const swapImage = join(work, 'swap.img');
  await sparseFile(swapImage, (swap as LvExtents).size);
  execFileSync('mkswap', ['-L', 'swap', swapImage], { stdio: 'ignore' });
  ddInto(esp, raw, (espPart as Placed).offset);
  ddInto(boot, raw, (bootPart as Placed).offset);
  await ddIntoLv(rootImage, root as LvExtents);
  await ddIntoLv(swapImage, swap as LvExtents);
  return vmFolder(
    {
      name,
      raws: [raw],
      fileSystems: [
        {
          path: '/disk0/part1',
          kind: 'fat',
          label: 'ESP',
          size: (espPart as Placed).size,
          image: esp,
          view: { staged: join(work, 'esp-files') },
        },
        { path: '/disk0/part2', kind: 'ext4', label: '', size: (bootPart as Placed).size, image: boot, view: { mount: 'ro,noload' } },
        {
          path: '/lvm/ubuntu-vg/ubuntu-lv',
          kind: 'ext4',
          label: '',
          size: (root as LvExtents).size,
          image: rootImage,
          view: { mount: 'ro,noload' },
          ...(tree as Tree),
        },
      ],
      blanks: [
        { path: '/disk0/part3', what: /LVM|ubuntu-vg/i, size: (pvPart as Placed).size },
        { path: '/lvm/ubuntu-vg/swap_1', what: /swap/i, size: (swap as LvExtents).size },
      ],
      searches: [
        { pattern: 'grubx64.efi', hit: '/disk0/part1/EFI/ubuntu/grubx64.efi' },
        { pattern: 'vmlinuz-6.8*', hit: '/disk0/part2/vmlinuz-6.8.0-45-generic' },
        { pattern: 'os-release', hit: '/lvm/ubuntu-vg/ubuntu-lv/etc/os-release' },
        { pattern: 'authorized_k?ys', hit: '/lvm/ubuntu-vg/ubuntu-lv/home/admin/.ssh/authorized_keys' },
      ],
    },
    work,
    0x21,
  );
}

/** RHEL 9 / Rocky's automatic layout: ESP, /boot XFS, a PV with VG rhel (root XFS, swap); here the
 * VG also spans a second disk (a second PV), so root's extents lie on both disks. */
export async function buildRhel(work: string, name = 'rhel-srv'): Promise<ServerVm> {
  const raw0 = join(work, 'disk0.raw');
  const raw1 = join(work, 'disk1.raw');
  const [espPart, bootPart, pv0] = await gptDisk(raw0, [
    { name: 'EFI System Partition', code: 'EF00', mib: 40 },
    { name: '', code: '8300', mib: 300 },
    { name: '', code: '8E00', mib: 200 },
  ]);
  const [pv1] = await gptDisk(raw1, [{ name: '', code: '8E00', mib: 160 }]);
  const [swap, root] = await makeVolumeGroup([pv0 as Placed, pv1 as Placed], 'rhel', [
    { name: 'swap', mib: 32 },
    { name: 'root', mib: 'rest' },
  ]);
  if (new Set((root as LvExtents).segments.map((segment) => segment.raw)).size !== 2) throw new Error('rhel/root should span both disks');
  const esp = join(work, 'esp.fat');
  await espImage(esp, (espPart as Placed).size, join(work, 'esp-files'), grubEsp('redhat'));
  const boot = join(work, 'boot.xfs');
  await linuxFs(boot, 'xfs', (bootPart as Placed).size, 'boot', async (folder) => {
    const kernel = '5.14.0-427.13.1.el9_4.x86_64';
    await seedBoot(folder, kernel, `initramfs-${kernel}.img`, 'grub2');
    await put(
      folder,
      `loader/entries/0123456789abcdef-${kernel}.conf`,
      `title Red Hat Enterprise Linux (${kernel}) 9.4\nlinux /vmlinuz-${kernel}\n`,
    );
    await mkdir(join(folder, 'efi'));
    await settle(folder, pathsUnder(folder));
  });
  const rootImage = join(work, 'root.xfs');
  let tree: Tree | undefined;
  await linuxFs(rootImage, 'xfs', (root as LvExtents).size, 'root', async (folder) => {
    tree = await seedLinuxRoot(folder, name, 'NAME="Red Hat Enterprise Linux"\nVERSION_ID="9.4"\nID="rhel"\nID_LIKE="fedora"\n', true);
    await settle(folder, pathsUnder(folder));
  });
  const swapImage = join(work, 'swap.img');
  await sparseFile(swapImage, (swap as LvExtents).size);
  execFileSync('mkswap', [swapImage], { stdio: 'ignore' });
  ddInto(esp, raw0, (espPart as Placed).offset);
  ddInto(boot, raw0, (bootPart as Placed).offset);
  await ddIntoLv(rootImage, root as LvExtents);
  await ddIntoLv(swapImage, swap as LvExtents);
  return vmFolder(
    {
      name,
      raws: [raw0, raw1],
      fileSystems: [
        {
          path: '/disk0/part1',
          kind: 'fat',
          label: 'ESP',
          size: (espPart as Placed).size,
          image: esp,
          view: { staged: join(work, 'esp-files') },
        },
        {
          path: '/disk0/part2',
          kind: 'xfs',
          label: 'boot',
          size: (bootPart as Placed).size,
          image: boot,
          view: { mount: 'ro,norecovery' },
        },
        {
          path: '/lvm/rhel/root',
          kind: 'xfs',
          label: 'root',
          size: (root as LvExtents).size,
          image: rootImage,
          view: { mount: 'ro,norecovery' },
          ...(tree as Tree),
        },
      ],
      blanks: [
        { path: '/disk0/part3', what: /LVM|rhel/i, size: (pv0 as Placed).size },
        { path: '/disk1/part1', what: /LVM|rhel/i, size: (pv1 as Placed).size },
        { path: '/lvm/rhel/swap', what: /swap/i, size: (swap as LvExtents).size },
      ],
      searches: [
        { pattern: 'grub.cfg', hit: '/disk0/part2/grub2/grub.cfg' },
        { pattern: 'os-release', hit: '/lvm/rhel/root/etc/os-release' },
        { pattern: '*.el9_4.x86_64.conf', hit: '/disk0/part2/loader/entries/0123456789abcdef-5.14.0-427.13.1.el9_4.x86_64.conf' },
      ],
    },
    work,
    0x22,
  );
}

/** Fedora's default: ESP, /boot ext4, one btrfs partition with subvolumes root and home, mounted
 * with compress=zstd; the default subvolume stays the top level, as Fedora leaves it. */
export async function buildFedora(work: string, name = 'fedora-srv'): Promise<ServerVm> {
  const raw = join(work, 'disk0.raw');
  const [espPart, bootPart, btrfsPart] = await gptDisk(raw, [
    { name: 'EFI System Partition', code: 'EF00', mib: 40 },
    { name: '', code: '8300', mib: 64 },
    { name: '', code: '8300', mib: 160 },
  ]);
  const esp = join(work, 'esp.fat');
  await espImage(esp, (espPart as Placed).size, join(work, 'esp-files'), grubEsp('fedora'));
  const boot = join(work, 'boot.ext4');
  await linuxFs(boot, 'ext4', (bootPart as Placed).size, '', async (folder) => {
    const kernel = '6.11.4-301.fc41.x86_64';
    await seedBoot(folder, kernel, `initramfs-${kernel}.img`, 'grub2');
    await put(folder, `loader/entries/0123456789abcdef-${kernel}.conf`, `title Fedora Linux (${kernel}) 41\n`);
    await settle(folder, pathsUnder(folder));
  });
  const volume = join(work, 'fedora.btrfs');
  let tree: Tree | undefined;
  await linuxFs(
    volume,
    'btrfs',
    (btrfsPart as Placed).size,
    'fedora',
    async (folder) => {
      run('btrfs', 'subvolume', 'create', join(folder, 'root'));
      run('btrfs', 'subvolume', 'create', join(folder, 'home'));
      const rootTree = await seedLinuxRoot(
        join(folder, 'root'),
        name,
        'NAME="Fedora Linux"\nVERSION="41 (Server Edition)"\nID=fedora\nVERSION_ID=41\n',
        false,
      );
      await mkdir(join(folder, 'root', 'home'));
      await seedHome(folder, 'home');
      tree = { links: rootTree.links.map((path) => `root/${path}`), sparse: `root/${rootTree.sparse}` };
      await settle(folder, pathsUnder(folder));
    },
    'compress=zstd',
  );
  ddInto(esp, raw, (espPart as Placed).offset);
  ddInto(boot, raw, (bootPart as Placed).offset);
  const rootTree = execFileSync('btrfs', ['inspect-internal', 'dump-tree', '-t', '256', volume], { encoding: 'utf8', maxBuffer: 64 * MIB });
  if (!/compression 3/.test(rootTree)) throw new Error('the root subvolume holds no zstd-compressed extent');
  ddInto(volume, raw, (btrfsPart as Placed).offset);
  return vmFolder(
    {
      name,
      raws: [raw],
      fileSystems: [
        {
          path: '/disk0/part1',
          kind: 'fat',
          label: 'ESP',
          size: (espPart as Placed).size,
          image: esp,
          view: { staged: join(work, 'esp-files') },
        },
        { path: '/disk0/part2', kind: 'ext4', label: '', size: (bootPart as Placed).size, image: boot, view: { mount: 'ro,noload' } },
        {
          path: '/disk0/part3',
          kind: 'btrfs',
          label: 'fedora',
          size: (btrfsPart as Placed).size,
          image: volume,
          view: { mount: 'ro,subvolid=5' },
          ...(tree as Tree),
        },
      ],
      blanks: [],
      searches: [
        { pattern: 'shimx64.efi', hit: '/disk0/part1/EFI/fedora/shimx64.efi' },
        { pattern: 'os-release', hit: '/disk0/part3/root/etc/os-release' },
        { pattern: 'notes.t?t', hit: '/disk0/part3/home/admin/notes.txt' },
      ],
    },
    work,
    0x23,
  );
}

/** Windows Server's layout: ESP (FAT32), MSR (16 MiB, no file system), C: (NTFS), a recovery
 * partition (NTFS). `sectorSize` 4096 makes 4 KiB NTFS sectors and MFT records (mkntfs -s 4096). */
export async function buildWindowsServer(work: string, name = 'win-srv', sectorSize: 512 | 4096 = 512): Promise<ServerVm> {
  const raw = join(work, 'disk0.raw');
  const [espPart, msrPart, cPart, recoveryPart] = await gptDisk(raw, [
    { name: 'EFI system partition', code: 'EF00', mib: 40 },
    { name: 'Microsoft reserved partition', code: '0C01', mib: 16 },
    { name: 'Basic data partition', code: '0700', mib: 96 },
    { name: '', code: '2700', mib: 24 },
  ]);
  const esp = join(work, 'esp.fat');
  await espImage(esp, (espPart as Placed).size, join(work, 'esp-files'), {
    'EFI/Microsoft/Boot/bootmgfw.efi': randomBytes(400 * 1024),
    'EFI/Microsoft/Boot/BCD': randomBytes(32 * 1024),
    'EFI/Microsoft/Boot/en-US/bootmgfw.efi.mui': randomBytes(20 * 1024),
    'EFI/Boot/bootx64.efi': randomBytes(400 * 1024),
  });
  const c = join(work, 'c.ntfs');
  // Three names: two in one folder (today only one of those is listed), one in another folder.
  const links = [
    'Windows/System32/notepad.exe',
    'Windows/System32/notepad-copy.exe',
    'Windows/WinSxS/amd64_microsoft-windows-notepad_10.0.20348.1/notepad.exe',
  ];
  const streams = ['Users/Administrator/Downloads/setup.exe:Zone.Identifier', 'Users/Administrator/Documents/report.docx:Zone.Identifier'];
  await ntfsImage(c, (cPart as Placed).size, 'Windows', sectorSize, (cPart as Placed).offset, async (folder) => {
    await put(folder, 'Windows/System32/drivers/etc/hosts', '# Copyright (c) 1993-2009 Microsoft Corp.\r\n127.0.0.1       localhost\r\n');
    await put(folder, 'Windows/System32/config/SOFTWARE', randomBytes(512 * 1024));
    await put(folder, 'Windows/System32/notepad.exe', randomBytes(200 * 1024));
    for (const name of links.slice(1)) {
      await mkdir(dirname(join(folder, name)), { recursive: true });
      await link(join(folder, links[0] as string), join(folder, name));
    }
    await put(
      folder,
      'Users/Administrator/Desktop/desktop.ini',
      '[.ShellClassInfo]\r\nLocalizedResourceName=@%SystemRoot%\\system32\\shell32.dll,-21769\r\n',
    );
    await put(folder, 'Users/Administrator/Documents/report.docx', randomBytes(64 * 1024));
    await put(folder, 'Users/Administrator/Downloads/setup.exe', randomBytes(700 * 1024));
    for (const stream of streams)
      await writeFile(join(folder, stream), '[ZoneTransfer]\r\nZoneId=3\r\nHostUrl=https://example.com/setup.exe\r\n');
    await putSparse(folder, 'ProgramData/Microsoft/Search/Data/Windows.edb');
    await put(folder, 'inetpub/wwwroot/iisstart.htm', '<!DOCTYPE html><html><body>IIS Windows Server</body></html>\r\n');
    for (let i = 0; i < 200; i++)
      await put(folder, `Windows/INF/oem${i}.inf`, `[Version]\r\nSignature="$Windows NT$"\r\nDriverVer=10/01/2026,${i}.0\r\n`);
  });
  const recovery = join(work, 'recovery.ntfs');
  await ntfsImage(recovery, (recoveryPart as Placed).size, 'Recovery', sectorSize, (recoveryPart as Placed).offset, async (folder) => {
    await put(folder, 'Recovery/WindowsRE/Winre.wim', randomBytes(1024 * 1024));
    await put(folder, 'Recovery/WindowsRE/ReAgent.xml', '<?xml version="1.0" encoding="utf-8"?><WindowsRE version="2.0"/>\r\n');
  });
  ddInto(esp, raw, (espPart as Placed).offset);
  ddInto(c, raw, (cPart as Placed).offset);
  ddInto(recovery, raw, (recoveryPart as Placed).offset);
  return vmFolder(
    {
      name,
      raws: [raw],
      fileSystems: [
        {
          path: '/disk0/part1',
          kind: 'fat',
          label: 'ESP',
          size: (espPart as Placed).size,
          image: esp,
          view: { staged: join(work, 'esp-files') },
        },
        {
          path: '/disk0/part3',
          kind: 'ntfs',
          label: 'Windows',
          size: (cPart as Placed).size,
          image: c,
          view: { ntfs3g: true },
          links,
          sparse: 'ProgramData/Microsoft/Search/Data/Windows.edb',
          streams,
        },
        {
          path: '/disk0/part4',
          kind: 'ntfs',
          label: 'Recovery',
          size: (recoveryPart as Placed).size,
          image: recovery,
          view: { ntfs3g: true },
        },
      ],
      blanks: [{ path: '/disk0/part2', what: /reserved|MSR/i, size: (msrPart as Placed).size }],
      searches: [
        { pattern: 'bootmgfw.efi', hit: '/disk0/part1/EFI/Microsoft/Boot/bootmgfw.efi' },
        { pattern: 'hosts', hit: '/disk0/part3/Windows/System32/drivers/etc/hosts' },
        { pattern: 'oem1?.inf', hit: '/disk0/part3/Windows/INF/oem17.inf' },
        { pattern: 'winre.*', hit: '/disk0/part4/Recovery/WindowsRE/Winre.wim' },
      ],
    },
    work,
    sectorSize === 512 ? 0x24 : 0x25,
  );
}
