// Volume groups assembled from the physical volumes found on all the disks of one VM. A PV is
// matched to its VG's physical_volumes by uuid; every PV holding metadata carries a copy of the
// VG's, and the copy with the highest seqno wins (an older one is from before a change that did
// not reach that PV, or from a disk image taken earlier: said in the group's notes).
// Striped segments (linear is one stripe) are read, and thick snapshots through their COW store
// over their origin (snapshot-disk.ts); other segment types are named and refused.
import type { Disk } from '../../disks/disk.ts';
import { LogicalVolumeDisk, type MappedSegment } from './logical-volume-disk.ts';
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
  if (type.startsWith('raid')) return `${type} RAID volume`;
  return REFUSED[type] ?? `"${type}" segment volume`;
}

type Devices = Map<string, { disk: Disk; path: string }>;

/** An LV of striped segments (linear is one stripe) mapped onto the PVs, or why it cannot be. */
function mapStriped(lv: LvMetadata, vg: VgMetadata, devices: Devices): { disk: Disk } | { problem: string } {
  const mapped: MappedSegment[] = [];
  for (const segment of lv.segments) {
    const stripes = [];
    const perStripe = (segment.extentCount / segment.stripes.length) * vg.extentSize;
    for (const stripe of segment.stripes) {
      const slot = vg.pvs.find((pv) => pv.key === stripe.pv);
      if (!slot) return { problem: `its metadata names a physical volume ${stripe.pv} the volume group does not list` };
      const device = devices.get(slot.uuid);
      if (!device) return { problem: `needs physical volume ${stripe.pv} (${slot.uuid}), which is not among the VM's disks` };
      if (stripe.firstExtent + segment.extentCount / segment.stripes.length > slot.peCount)
        return { problem: `a segment runs past the ${slot.peCount} extents of physical volume ${stripe.pv}` };
      const start = slot.peStart + stripe.firstExtent * vg.extentSize;
      if (!Number.isSafeInteger(start + perStripe) || start + perStripe > device.disk.capacity)
        return { problem: `a segment lies past the end of ${device.path} (physical volume ${stripe.pv})` };
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
function describeSnapshot(lv: LvMetadata, origin: string, vg: VgMetadata, devices: Devices): LogicalVolume {
  const base = { name: lv.name, size: lv.extents * vg.extentSize, disk: null, nothingToRead: false, layout: `snapshot of ${origin}` };
  const originLv = vg.lvs.find((candidate) => candidate.name === origin);
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

/** Every VG of the found PVs, each from its newest metadata copy, with its visible LVs. */
export function assembleVolumeGroups(found: FoundPv[]): VolumeGroup[] {
  const devices = new Map(found.map((pv) => [pv.label.uuid, { disk: pv.disk, path: pv.path }]));
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
    // Two VGs of one name (disks of two machines) stay apart: the second is named by its id too.
    const name = names.has(vg.name) ? `${vg.name}-${vg.id.slice(0, 6)}` : vg.name;
    names.add(name);
    const snapshotOf = new Map<string, string>();
    for (const lv of vg.lvs)
      for (const segment of lv.segments)
        if (segment.type === 'snapshot' && segment.cowStore) snapshotOf.set(segment.cowStore, segment.origin ?? '?');
    // LVM writes a snapshot's COW store without VISIBLE, yet shows it as the snapshot (lv_is_visible).
    const lvs = vg.lvs.filter((lv) => lv.visible || snapshotOf.has(lv.name)).map((lv) => describeLv(lv, vg, devices, snapshotOf));
    const pvPaths = vg.pvs.flatMap((slot) => {
      const device = devices.get(slot.uuid);
      return device ? [device.path] : [];
    });
    for (const slot of vg.pvs)
      if (!devices.has(slot.uuid)) notes.push(`physical volume ${slot.key} (${slot.uuid}) is not among the VM's disks`);
    const size = vg.pvs.reduce((total, slot) => total + slot.peCount * vg.extentSize, 0);
    groups.push({ name, id: vg.id, seqno: vg.seqno, size, lvs, pvPaths, notes });
  }
  return groups;
}
