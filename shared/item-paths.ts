// The layout of the paths a restore point is browsed by, shared by the engine and the console
// (no Node modules):
//
//   /diskN                   a disk of the VM
//   /diskN/partM/…           a partition (part0: a disk without a partition table) and its files
//   /lvm/<vg>/<lv>/…         an LVM2 logical volume (its VG may span several disks) and its files
//
// A volume is the partition or the logical volume; its files are below it.

const parts = (path: string): string[] => path.split('/').filter((part) => part !== '' && part !== '.');

/** How many path components name the volume itself: 2 for /diskN/partM, 3 for /lvm/vg/lv. */
export function volumeDepth(path: string): number {
  return parts(path)[0] === 'lvm' ? 3 : 2;
}

/** The volume a path is in and the path inside it, or null when the path is above any volume
 * (/, a disk, /lvm or a VG). */
export function splitVolumePath(path: string): { volume: string; inner: string } | null {
  const all = parts(path);
  const depth = volumeDepth(path);
  if (all.length < depth) return null;
  return { volume: `/${all.slice(0, depth).join('/')}`, inner: `/${all.slice(depth).join('/')}` };
}

/** True when the path names something inside a volume (a file or folder), not the volume or above. */
export function isInsideVolume(path: string): boolean {
  return parts(path).length > volumeDepth(path);
}
