// A volume group as its metadata text describes it (lib/format_text/import_vsn1.c):
//
//   <vg name> {
//     id = "…"   seqno = N   extent_size = <sectors>
//     physical_volumes { pv0 { id = "<pv uuid>"  pe_start = <sectors>  pe_count = N } … }
//     logical_volumes {
//       <lv name> {
//         id = "…"   status = ["READ", "WRITE", "VISIBLE"]   segment_count = N
//         segment1 { start_extent = 0  extent_count = N  type = "striped"
//                    stripe_count = 1  [stripe_size = <sectors>]  stripes = ["pv0", <first extent>, …] }
//         (other types: "snapshot" with origin and cow_store, "thin", "thin-pool", "raid1", …)
//       } …
//     }
//   }
//
// Sizes in the text are in 512-byte sectors; converted to bytes here, each checked to stay a safe integer.
import { LifeboatError } from '../../errors.ts';
import { shown } from './names.ts';
import { arrayOf, flagsOf, numberOf, optionalString, stringOf, type ConfigSection } from './metadata-text.ts';

const SECTOR = 512;
const MAX_SEGMENTS = 10_000;
const MAX_STRIPES = 128;

export type PvSlot = { key: string; uuid: string; peStart: number; peCount: number };
export type Stripe = { pv: string; firstExtent: number };
export type Segment = {
  startExtent: number;
  extentCount: number;
  type: string;
  /** Bytes per stripe chunk; the whole segment for a linear one. */
  stripeSize: number;
  stripes: Stripe[];
  origin: string | null;
  cowStore: string | null;
};
export type LvMetadata = { name: string; id: string; visible: boolean; segments: Segment[]; extents: number };
export type VgMetadata = { name: string; id: string; seqno: number; extentSize: number; pvs: PvSlot[]; lvs: LvMetadata[] };

function corrupt(why: string): never {
  throw new LifeboatError('corrupt-disk', `LVM2 metadata: ${why}`);
}

function bytes(sectors: number, what: string): number {
  const value = sectors * SECTOR;
  if (!Number.isSafeInteger(value)) corrupt(`${what} of ${sectors} sectors is too large`);
  return value;
}

function readSegment(section: ConfigSection, where: string, extentSize: number): Segment {
  const startExtent = numberOf(section, 'start_extent', where);
  const extentCount = numberOf(section, 'extent_count', where);
  const type = stringOf(section, 'type', where);
  const segment: Segment = { startExtent, extentCount, type, stripeSize: 0, stripes: [], origin: null, cowStore: null };
  if (type === 'snapshot') return { ...segment, origin: optionalString(section, 'origin'), cowStore: optionalString(section, 'cow_store') };
  if (type !== 'striped') return segment;
  const stripeCount = numberOf(section, 'stripe_count', where);
  if (stripeCount < 1 || stripeCount > MAX_STRIPES) corrupt(`${where} has ${stripeCount} stripes`);
  const list = arrayOf(section, 'stripes', where);
  if (list.length !== stripeCount * 2) corrupt(`${where} lists ${list.length / 2} stripes, not its stripe_count ${stripeCount}`);
  const stripes: Stripe[] = [];
  for (let index = 0; index < stripeCount; index++) {
    const pv = list[index * 2];
    const firstExtent = list[index * 2 + 1];
    if (typeof pv !== 'string' || typeof firstExtent !== 'number' || !Number.isSafeInteger(firstExtent) || firstExtent < 0)
      corrupt(`${where} stripe ${index} is not a physical volume and an extent`);
    stripes.push({ pv, firstExtent });
  }
  if (extentCount % stripeCount !== 0) corrupt(`${where}: ${extentCount} extents do not divide into ${stripeCount} stripes`);
  const stripeSize = stripeCount === 1 ? extentCount * extentSize : bytes(numberOf(section, 'stripe_size', where), `${where} stripe_size`);
  // As dm-stripe demands: each stripe's share of the segment is a whole number of chunks.
  if (stripeSize <= 0 || ((extentCount / stripeCount) * extentSize) % stripeSize !== 0)
    corrupt(`${where}: stripe size ${stripeSize} does not divide its ${extentCount / stripeCount} extents per stripe`);
  return { ...segment, stripeSize, stripes };
}

function readLv(name: string, section: ConfigSection, extentSize: number): LvMetadata {
  const where = `logical volume ${shown(name)}`;
  const count = numberOf(section, 'segment_count', where);
  if (count < 1 || count > MAX_SEGMENTS) corrupt(`${where} has ${count} segments`);
  const segments: Segment[] = [];
  let extents = 0;
  for (let index = 1; index <= count; index++) {
    const own = section.sections.get(`segment${index}`);
    if (!own) corrupt(`${where} has no segment${index}`);
    const segment = readSegment(own, `${where} segment${index}`, extentSize);
    if (segment.startExtent !== extents) corrupt(`${where} segment${index} starts at extent ${segment.startExtent}, not ${extents}`);
    extents += segment.extentCount;
    segments.push(segment);
  }
  bytes((extents * extentSize) / SECTOR, `${where} size`);
  return { name, id: optionalString(section, 'id') ?? '', visible: flagsOf(section, 'status').includes('VISIBLE'), segments, extents };
}

/** The volume group a metadata text describes: the one top-level section holding a seqno. */
export function readVolumeGroup(root: ConfigSection): VgMetadata {
  const name = root.order.find((key) => root.sections.get(key)?.values.has('seqno'));
  const section = name === undefined ? undefined : root.sections.get(name);
  if (name === undefined || !section) return corrupt('no volume group section');
  const where = `volume group ${shown(name)}`;
  const extentSectors = numberOf(section, 'extent_size', where);
  if (extentSectors < 1) corrupt(`${where} has extents of 0 sectors`);
  const extentSize = bytes(extentSectors, `${where} extent_size`);
  const pvs: PvSlot[] = [];
  for (const [key, pv] of section.sections.get('physical_volumes')?.sections ?? []) {
    const pvWhere = `${where} physical volume ${shown(key)}`;
    pvs.push({
      key,
      uuid: stringOf(pv, 'id', pvWhere),
      peStart: bytes(numberOf(pv, 'pe_start', pvWhere), `${pvWhere} pe_start`),
      peCount: numberOf(pv, 'pe_count', pvWhere),
    });
  }
  const lvs = [...(section.sections.get('logical_volumes')?.sections ?? [])].map(([lvName, lv]) => readLv(lvName, lv, extentSize));
  return { name, id: stringOf(section, 'id', where), seqno: numberOf(section, 'seqno', where), extentSize, pvs, lvs };
}
