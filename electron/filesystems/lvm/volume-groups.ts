// Volume groups assembled from the physical volumes found on all the disks of one VM. A PV is
// matched to its VG's physical_volumes by uuid; every PV holding metadata carries a copy of the
// VG's, and the copy with the highest seqno wins (an older one is from before a change that did
// not reach that PV, or from a disk image taken earlier: said in the group's notes).
// Striped segments (linear is one stripe) are read, and thick snapshots through their COW store
// over their origin (snapshot-disk.ts); other segment types are named and refused.
// A PV uuid found on two disks (a clone of a disk attached to its own VM) is refused as LVM
// refuses it: which copy holds the data is not known, so the LVs using it are listed as gaps.
// VG and LV names that LVM would not accept are never used in a path (names.ts).
import type { Disk } from '../../disks/disk.ts';
import { LogicalVolumeDisk, type MappedSegment } from './logical-volume-disk.ts';
import { isValidLvmName, shown } from './names.ts';
import { SnapshotDisk } from './snapshot-disk.ts';
import type { PvLabel } from './physical-volume.ts';
import type { LvMetadata, VgMetadata } from './volume-group.ts';

export type FoundPv = { path: string; disk: Disk; label: PvLabel; metadata: VgMetadata | null };

export type LogicalVolume = {
  name: string;
  size: number;
  /** What it is: "linear", "striped, 2 stripes", "thin pool"… */
  layout: string;
  disk: Disk | null;
  /** Why its content cannot be read (a gap), or null. */
  problem: string | null;
  /** Holds no files of its own (a thin pool, whose thin volumes are listed beside it). */
  nothingToRead: boolean;
};
export type VolumeGroup = {
  name: string;
  id: string;
  seqno: number;
  /** The bytes of all its physical volumes' extents. */
  size: number;
  lvs: LogicalVolume[];
  pvPaths: string[];
  notes: string[];
};

/** Segment types LVM writes that we do not read, by the name the operator knows them by. */
const REFUSED: Record<string, string> = {
  thin: 'thin volume',
  'thin-pool': 'thin pool',
  cache: 'cached volume',
  'cache-pool': 'cache pool',
  writecache: 'write-cached volume',
  mirror: 'mirrored volume (old mirror format)',
  vdo: 'VDO volume',
  'vdo-pool': 'VDO pool',
  integrity: 'integrity volume',
  error: 'error volume',
  zero: 'zero volume',
};

function refusedName(type: string): string {
  if (/^raid[0-9a-z_]{0,20}$/.test(type)) return `${type} RAID volume`;
  return REFUSED[type] ?? `"${shown(type)}" segment volume`;
}

/** A PV uuid's device, or every path it was found at when found more than once. */
type Device = { disk: Disk; path: string } | { duplicates: string[] };
type Devices = Map<string, Device>;

function devicesOf(found: FoundPv[]): Devices {
  const devices: Devices = new Map();
  for (const pv of found) {
    const seen = devices.get(pv.label.uuid);
    if (!seen) devices.set(pv.label.uuid, { disk: pv.disk, path: pv.path });
    else devices.set(pv.label.uuid, { duplicates: 'duplicates' in seen ? [...seen.duplicates, pv.path] : [seen.path, pv.path] });
  }
  return devices;
}

function pathsOf(device: Device): string[] {
  return 'duplicates' in device ? device.duplicates : [device.path];
}

/** An LV of striped segments (linear is one stripe) mapped onto the PVs, or why it cannot be. */
function mapStriped(lv: LvMetadata, vg: VgMetadata, devices: Devices): { disk: Disk } | { problem: string } {
  const mapped: MappedSegment[] = [];
  for (const segment of lv.segments) {
    const stripes = [];
    const perStripe = (segment.extentCount / segment.stripes.length) * vg.extentSize;
    for (const stripe of segment.stripes) {
      const slot = vg.pvs.find((pv) => pv.key === stripe.pv);
      const pvName = shown(stripe.pv);
      if (!slot) return { problem: `its metadata names a physical volume ${pvName} the volume group does not list` };
      const device = devices.get(slot.uuid);
      if (!device) return { problem: `needs physical volume ${pvName} (${shown(slot.uuid)}), which is not among the VM's disks` };
      if ('duplicates' in device)
        return {
          problem: `needs physical volume ${pvName} (${shown(slot.uuid)}), found on ${device.duplicates.length} disks (${device.duplicates.join(', ')}); a cloned disk? Which copy holds the data is not known: not read`,
        };
      if (stripe.firstExtent + segment.extentCount / segment.stripes.length > slot.peCount)
        return { problem: `a segment runs past the ${slot.peCount} extents of physical volume ${pvName}` };
      const start = slot.peStart + stripe.firstExtent * vg.extentSize;
      if (!Number.isSafeInteger(start + perStripe) || start + perStripe > device.disk.capacity)
        return { problem: `a segment lies past the end of ${device.path} (physical volume ${pvName})` };
      stripes.push({ device: device.disk, start });
    }
    mapped.push({
      start: segment.startExtent * vg.extentSize,
      size: segment.extentCount * vg.extentSize,
      stripeSize: segment.stripeSize,
      stripes,
    });
  }
  return { disk: new LogicalVolumeDisk(mapped, `logical volume ${vg.name}/${lv.name}`) };
}

function stripedOnly(lv: LvMetadata): string | null {
  const other = lv.segments.find((segment) => segment.type !== 'striped');
  return other ? other.type : null;
}

/** A thick snapshot: its COW store (this LV) over its origin, both of striped segments. */
function describeSnapshot(lv: LvMetadata, originName: string, vg: VgMetadata, devices: Devices): LogicalVolume {
  const origin = shown(originName);
  const base = { name: lv.name, size: lv.extents * vg.extentSize, disk: null, nothingToRead: false, layout: `snapshot of ${origin}` };
  const originLv = vg.lvs.find((candidate) => candidate.name === originName);
  if (!originLv) return { ...base, problem: `thick snapshot of ${origin}, which the volume group does not list` };
  for (const [which, own] of [['COW store', lv] as const, ['origin', originLv] as const]) {
    const type = stripedOnly(own);
    if (type) return { ...base, problem: `thick snapshot of ${origin}: its ${which} is a ${refusedName(type)}: not read` };
  }
  const cow = mapStriped(lv, vg, devices);
  const originMap = mapStriped(originLv, vg, devices);
  if ('problem' in cow) return { ...base, problem: `thick snapshot of ${origin}: its COW store ${cow.problem}` };
  if ('problem' in originMap) return { ...base, problem: `thick snapshot of ${origin}: its origin ${originMap.problem}` };
  return { ...base, problem: null, disk: new SnapshotDisk(originMap.disk, cow.disk, `snapshot ${vg.name}/${lv.name} of ${origin}`) };
}

function describeLv(lv: LvMetadata, vg: VgMetadata, devices: Devices, snapshotOf: Map<string, string>): LogicalVolume {
  const origin = snapshotOf.get(lv.name);
  if (origin !== undefined) return describeSnapshot(lv, origin, vg, devices);
  const base = { name: lv.name, size: lv.extents * vg.extentSize, disk: null, nothingToRead: false };
  const other = stripedOnly(lv);
  if (other) {
    const what = refusedName(other);
    if (other === 'thin-pool') return { ...base, layout: what, problem: null, nothingToRead: true };
    return { ...base, layout: what, problem: `${what}: not read` };
  }
  const stripeCounts = new Set(lv.segments.map((segment) => segment.stripes.length));
  const layout = stripeCounts.size === 1 && stripeCounts.has(1) ? 'linear' : `striped, ${[...stripeCounts].join('/')} stripes`;
  const mapped = mapStriped(lv, vg, devices);
  return 'problem' in mapped ? { ...base, layout, problem: mapped.problem } : { ...base, layout, problem: null, disk: mapped.disk };
}

/** A name not yet taken: `wanted`, else `wanted-2`, `wanted-3`… (bounded by the names taken). */
function unique(wanted: string, taken: Set<string>): string {
  let name = wanted;
  for (let suffix = 2; taken.has(name); suffix++) name = `${wanted}-${suffix}`;
  return name;
}

/** An LV listed as a gap under a name safe in a path. */
function gap(lv: LvMetadata, vg: VgMetadata, name: string, problem: string): LogicalVolume {
  return { name, size: lv.extents * vg.extentSize, layout: 'not read', disk: null, problem, nothingToRead: false };
}

/** Every VG of the found PVs, each from its newest metadata copy, with its visible LVs. */
export function assembleVolumeGroups(found: FoundPv[]): VolumeGroup[] {
  const devices = devicesOf(found);
  const byId = new Map<string, { newest: VgMetadata; copies: { path: string; seqno: number }[] }>();
  for (const pv of found) {
    if (!pv.metadata) continue;
    const group = byId.get(pv.metadata.id);
    if (!group) byId.set(pv.metadata.id, { newest: pv.metadata, copies: [{ path: pv.path, seqno: pv.metadata.seqno }] });
    else {
      group.copies.push({ path: pv.path, seqno: pv.metadata.seqno });
      if (pv.metadata.seqno > group.newest.seqno) group.newest = pv.metadata;
    }
  }
  const groups: VolumeGroup[] = [];
  const names = new Set<string>();
  for (const { newest: vg, copies } of byId.values()) {
    const notes = copies
      .filter((copy) => copy.seqno < vg.seqno)
      .map((copy) => `${copy.path} holds an older copy of the metadata (seqno ${copy.seqno}, newest ${vg.seqno}): ignored`);
    // A name LVM would not accept never reaches a path: the group is listed under a stand-in, its LVs as gaps.
    const validName = isValidLvmName(vg.name);
    if (!validName) notes.push(`volume group name "${shown(vg.name)}" is not a valid LVM2 name: its logical volumes are not read`);
    // Two VGs of one name (disks of two machines) stay apart: the second is named by its id too.
    const wanted = !validName
      ? 'invalid-name'
      : names.has(vg.name)
        ? `${vg.name}-${vg.id.replace(/[^A-Za-z0-9]/g, '').slice(0, 6)}`
        : vg.name;
    const name = unique(wanted, names);
    names.add(name);
    const snapshotOf = new Map<string, string>();
    for (const lv of vg.lvs)
      for (const segment of lv.segments)
        if (segment.type === 'snapshot' && segment.cowStore) snapshotOf.set(segment.cowStore, segment.origin ?? '?');
    // lvcreate -s writes the internal snapshotN (a "snapshot" segment) VISIBLE and hides the COW store,
    // yet LVM shows the COW store as the snapshot (lv_is_visible) and never snapshotN: so do we.
    const shownLvs = vg.lvs.filter(
      (lv) => !lv.segments.some((segment) => segment.type === 'snapshot') && (lv.visible || snapshotOf.has(lv.name)),
    );
    const lvNames = new Set(shownLvs.map((lv) => lv.name).filter(isValidLvmName));
    const lvs = shownLvs.map((lv): LogicalVolume => {
      if (!isValidLvmName(lv.name)) {
        // A stand-in name safe in a path; the real one only escaped, in the problem.
        const standIn = unique('invalid-name', lvNames);
        lvNames.add(standIn);
        return gap(lv, vg, standIn, `logical volume name "${shown(lv.name)}" is not a valid LVM2 name: not read`);
      }
      if (!validName) return gap(lv, vg, lv.name, `its volume group's name "${shown(vg.name)}" is not a valid LVM2 name: not read`);
      return describeLv(lv, vg, devices, snapshotOf);
    });
    const pvPaths = vg.pvs.flatMap((slot) => {
      const device = devices.get(slot.uuid);
      return device ? pathsOf(device) : [];
    });
    for (const slot of vg.pvs) {
      const device = devices.get(slot.uuid);
      if (!device) notes.push(`physical volume ${shown(slot.key)} (${shown(slot.uuid)}) is not among the VM's disks`);
      else if ('duplicates' in device)
        notes.push(
          `physical volume ${shown(slot.key)} (${shown(slot.uuid)}) is found on ${device.duplicates.length} disks (${device.duplicates.join(', ')}), as when a disk's clone is attached: the logical volumes using it are not read`,
        );
    }
    const size = vg.pvs.reduce((total, slot) => total + slot.peCount * vg.extentSize, 0);
    groups.push({ name, id: vg.id, seqno: vg.seqno, size, lvs, pvPaths, notes });
  }
  return groups;
}
