// The text descriptor of a VMDK: what kind of disk it is and which extents hold its bytes.
// We parse what real descriptors contain and write the monolithicFlat form qemu-img writes.
import { randomBytes } from 'node:crypto';
import { LifeboatError } from '../errors.ts';
import { SECTOR } from './disk.ts';

export type ExtentKind = 'FLAT' | 'VMFS' | 'SPARSE' | 'VMFSSPARSE' | 'SESPARSE' | 'ZERO';
const extentKinds: readonly string[] = ['FLAT', 'VMFS', 'SPARSE', 'VMFSSPARSE', 'SESPARSE', 'ZERO'];

/** The createTypes VMware documents; anything else is refused by name rather than guessed at. */
const knownCreateTypes: readonly string[] = [
  'monolithicSparse',
  'monolithicFlat',
  'twoGbMaxExtentSparse',
  'twoGbMaxExtentFlat',
  'streamOptimized',
  'vmfs',
  'vmfsThin',
  'vmfsSparse',
  'seSparse',
  'vmfsRaw',
  'vmfsRawDeviceMap',
  'vmfsPassthroughRawDeviceMap',
  'fullDevice',
  'partitionedDevice',
  'custom',
];

export type DescriptorExtent = {
  access: 'RW' | 'RDONLY' | 'NOACCESS';
  sectors: number;
  kind: ExtentKind;
  fileName: string | null;
  /** Start of the extent's data inside its file, in sectors (FLAT/VMFS only). */
  fileOffsetSectors: number;
};

export type VmdkDescriptor = {
  createType: string;
  /** This disk's content id: a delta names its parent's in parentCID. */
  cid: string | null;
  /** NO_PARENT for a base disk; a snapshot delta's parent has this CID. */
  parentCid: string;
  /** Where a delta's parent is, as VMware wrote it (relative, absolute or a Windows path). */
  parentFileNameHint: string | null;
  extents: DescriptorExtent[];
  ddb: Map<string, string>;
};

export const DESCRIPTOR_MAX_BYTES = 64 * 1024;
export const NO_PARENT = 'ffffffff';

const extentLine = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?\s*$/;
const keyValue = /^([A-Za-z0-9_.]+)\s*=\s*"?([^"]*)"?\s*$/;
const cidValue = /^[0-9a-fA-F]{1,8}$/;

export function looksLikeDescriptor(head: Buffer): boolean {
  const text = head.subarray(0, 1024).toString('latin1');
  return text.startsWith('# Disk DescriptorFile') || /^\s*createType\s*=/m.test(text);
}

/** Parses a descriptor file, or (`embedded`) the one inside a monolithicSparse file, whose
 * extent line names that file itself and is not needed. */
export function parseDescriptor(text: string, label: string, options: { embedded?: boolean } = {}): VmdkDescriptor {
  const bad = (why: string): never => {
    throw new LifeboatError('invalid-source', `${label}: not a usable VMDK descriptor (${why})`);
  };
  if (text.length > DESCRIPTOR_MAX_BYTES) bad('larger than 64 KiB');
  let createType = '';
  let cid: string | null = null;
  let parentCid = NO_PARENT;
  let parentFileNameHint: string | null = null;
  const extents: DescriptorExtent[] = [];
  const ddb = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const extent = extentLine.exec(line);
    if (extent) {
      if (!options.embedded) extents.push(parseExtent(extent, bad));
      continue;
    }
    const pair = keyValue.exec(line);
    if (!pair) continue;
    const [, key = '', value = ''] = pair;
    if (key === 'createType') createType = value;
    else if (key === 'CID') cid = checkCid(value, 'CID', bad);
    else if (key === 'parentCID') parentCid = checkCid(value, 'parentCID', bad);
    else if (key === 'parentFileNameHint') {
      if (/[\0-\x1f]/.test(value)) bad('parentFileNameHint holds control characters');
      parentFileNameHint = value;
    } else if (key.startsWith('ddb.')) ddb.set(key, value);
  }
  if (!createType) bad('no createType');
  if (!knownCreateTypes.includes(createType)) bad(`createType "${createType}" is not a VMDK type Lifeboat knows`);
  if (extents.length === 0 && !options.embedded) bad('no extents');
  if (parentCid !== NO_PARENT && !parentFileNameHint)
    bad(`it is a snapshot delta (parentCID ${parentCid}) that names no parentFileNameHint`);
  return { createType, cid, parentCid, parentFileNameHint, extents, ddb };
}

/** A CID is a 32-bit number: VMware writes it with leading zeros, qemu without, so both
 * compare as the same 8 digits. */
function checkCid(value: string, key: string, bad: (why: string) => never): string {
  if (!cidValue.test(value)) bad(`${key} "${value}" is not a 32-bit hex number`);
  return value.toLowerCase().padStart(8, '0');
}

function parseExtent(extent: RegExpExecArray, bad: (why: string) => never): DescriptorExtent {
  const kind = extent[3] as string;
  if (!extentKinds.includes(kind)) bad(`extent type ${kind} is not supported`);
  const sectors = Number(extent[2]);
  const fileOffsetSectors = Number(extent[5] ?? '0');
  if (!Number.isSafeInteger(sectors * SECTOR) || !Number.isSafeInteger(fileOffsetSectors * SECTOR)) bad('extent size out of range');
  const fileName = extent[4] ?? null;
  if (kind !== 'ZERO' && !fileName) bad(`${kind} extent without a file name`);
  if (fileName && (fileName.includes('/') || fileName.includes('\\') || fileName === '..'))
    bad(`extent file "${fileName}" is outside the VM folder`);
  return { access: extent[1] as DescriptorExtent['access'], sectors, kind: kind as ExtentKind, fileName, fileOffsetSectors };
}

/** The descriptor of a monolithicFlat disk, with the geometry qemu-img would write. */
export function writeFlatDescriptor(capacity: number, flatFileName: string, adapterType = 'lsilogic'): string {
  if (capacity % SECTOR !== 0) throw new LifeboatError('invalid-source', `disk capacity ${capacity} is not a whole number of sectors`);
  const sectors = capacity / SECTOR;
  const cylinders = Math.min(65535, Math.floor(sectors / (16 * 63)));
  const cid = randomBytes(4).toString('hex');
  return [
    '# Disk DescriptorFile',
    'version=1',
    `CID=${cid}`,
    'parentCID=ffffffff',
    'createType="monolithicFlat"',
    '',
    '# Extent description',
    `RW ${sectors} FLAT "${flatFileName}" 0`,
    '',
    '# The Disk Data Base',
    '#DDB',
    '',
    'ddb.virtualHWVersion = "4"',
    `ddb.geometry.cylinders = "${cylinders}"`,
    'ddb.geometry.heads = "16"',
    'ddb.geometry.sectors = "63"',
    `ddb.adapterType = "${adapterType}"`,
    '',
  ].join('\n');
}
