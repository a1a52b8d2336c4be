// The text descriptor of a VMDK: what kind of disk it is and which extents hold its bytes.
// We parse what real descriptors contain and write the monolithicFlat form qemu-img writes.
import { randomBytes } from 'node:crypto';
import { LifeboatError } from '../errors.ts';
import { SECTOR } from './disk.ts';

export type ExtentKind = 'FLAT' | 'VMFS' | 'SPARSE' | 'ZERO';

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
  parentCid: string;
  extents: DescriptorExtent[];
  ddb: Map<string, string>;
};

export const DESCRIPTOR_MAX_BYTES = 64 * 1024;

const extentLine = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?\s*$/;
const keyValue = /^([A-Za-z0-9_.]+)\s*=\s*"?([^"]*)"?\s*$/;

export function looksLikeDescriptor(head: Buffer): boolean {
  const text = head.subarray(0, 1024).toString('latin1');
  return text.startsWith('# Disk DescriptorFile') || /^\s*createType\s*=/m.test(text);
}

export function parseDescriptor(text: string, label: string): VmdkDescriptor {
  const bad = (why: string): never => {
    throw new LifeboatError('invalid-source', `${label}: not a usable VMDK descriptor (${why})`);
  };
  if (text.length > DESCRIPTOR_MAX_BYTES) bad('larger than 64 KiB');
  let createType = '';
  let parentCid = 'ffffffff';
  const extents: DescriptorExtent[] = [];
  const ddb = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const extent = extentLine.exec(line);
    if (extent) {
      const kind = extent[3] as string;
      if (kind !== 'FLAT' && kind !== 'VMFS' && kind !== 'SPARSE' && kind !== 'ZERO') bad(`extent type ${kind} is not supported`);
      const sectors = Number(extent[2]);
      const fileOffsetSectors = Number(extent[5] ?? '0');
      if (!Number.isSafeInteger(sectors * SECTOR) || !Number.isSafeInteger(fileOffsetSectors * SECTOR)) bad('extent size out of range');
      const fileName = extent[4] ?? null;
      if (kind !== 'ZERO' && !fileName) bad(`${kind} extent without a file name`);
      if (fileName && (fileName.includes('/') || fileName.includes('\\') || fileName === '..')) bad(`extent file "${fileName}" is outside the VM folder`);
      extents.push({ access: extent[1] as DescriptorExtent['access'], sectors, kind: kind as ExtentKind, fileName, fileOffsetSectors });
      continue;
    }
    const pair = keyValue.exec(line);
    if (!pair) continue;
    const [, key = '', value = ''] = pair;
    if (key === 'createType') createType = value;
    else if (key === 'parentCID') parentCid = value.toLowerCase();
    else if (key.startsWith('ddb.')) ddb.set(key, value);
  }
  if (!createType) bad('no createType');
  if (parentCid !== 'ffffffff') bad('it is a snapshot delta disk; consolidate the snapshot before backing it up');
  if (extents.length === 0) bad('no extents');
  return { createType, parentCid, extents, ddb };
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
