// The footer of a fixed VHD (Microsoft's Virtual Hard Disk format, the one Azure imports): the
// disk's bytes as they are, sized to a whole MiB, then 512 bytes saying so. Big-endian; CHS
// geometry and the checksum as the specification computes them.
import { randomBytes } from 'node:crypto';
import { LifeboatError } from '../errors.ts';

export const VHD_FOOTER = 512;
const COOKIE = 'conectix';
const FIXED = 2;
/** Seconds from the Unix epoch to the VHD epoch (2000-01-01 UTC). */
const VHD_EPOCH = 946_684_800;
const MIB = 1024 * 1024;

/** Azure takes fixed VHDs whose virtual size is a whole number of MiB. */
export function vhdSize(capacity: number): number {
  return Math.ceil(capacity / MIB) * MIB;
}

function geometry(size: number): { cylinders: number; heads: number; sectors: number } {
  const total = Math.min(Math.floor(size / 512), 65535 * 16 * 255);
  let sectors: number;
  let heads: number;
  let cylindersTimesHeads: number;
  if (total >= 65535 * 16 * 63) {
    sectors = 255;
    heads = 16;
    cylindersTimesHeads = Math.floor(total / sectors);
  } else {
    sectors = 17;
    cylindersTimesHeads = Math.floor(total / sectors);
    heads = Math.max(4, Math.floor((cylindersTimesHeads + 1023) / 1024));
    if (cylindersTimesHeads >= heads * 1024 || heads > 16) {
      sectors = 31;
      heads = 16;
      cylindersTimesHeads = Math.floor(total / sectors);
    }
    if (cylindersTimesHeads >= heads * 1024) {
      sectors = 63;
      heads = 16;
      cylindersTimesHeads = Math.floor(total / sectors);
    }
  }
  return { cylinders: Math.floor(cylindersTimesHeads / heads), heads, sectors };
}

function checksum(footer: Buffer): number {
  let sum = 0;
  for (let index = 0; index < VHD_FOOTER; index++) if (index < 64 || index >= 68) sum += footer[index] as number;
  return ~sum >>> 0;
}

export function vhdFooter(size: number, now = new Date()): Buffer {
  if (size % MIB !== 0) throw new LifeboatError('internal', `a fixed VHD for Azure is a whole number of MiB, not ${size} bytes`);
  const footer = Buffer.alloc(VHD_FOOTER);
  footer.write(COOKIE, 0, 'latin1');
  footer.writeUInt32BE(0x00000002, 8);
  footer.writeUInt32BE(0x00010000, 12);
  footer.writeBigUInt64BE(0xffffffffffffffffn, 16);
  footer.writeUInt32BE(Math.max(0, Math.floor(now.getTime() / 1000) - VHD_EPOCH), 24);
  footer.write('lfbt', 28, 'latin1');
  footer.writeUInt32BE(0x00010000, 32);
  footer.write('Wi2k', 36, 'latin1');
  footer.writeBigUInt64BE(BigInt(size), 40);
  footer.writeBigUInt64BE(BigInt(size), 48);
  const { cylinders, heads, sectors } = geometry(size);
  footer.writeUInt16BE(cylinders, 56);
  footer.writeUInt8(heads, 58);
  footer.writeUInt8(sectors, 59);
  footer.writeUInt32BE(FIXED, 60);
  randomBytes(16).copy(footer, 68);
  footer.writeUInt32BE(checksum(footer), 64);
  return footer;
}

export type VhdFooter = { currentSize: number; diskType: number; cylinders: number; heads: number; sectors: number };

/** Reads a fixed VHD's footer (outside bytes): its fields, or one clear error. */
export function parseVhdFooter(bytes: Uint8Array): VhdFooter {
  const footer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (why: string): never => {
    throw new LifeboatError('corrupt-disk', `not a valid VHD footer: ${why}`);
  };
  if (footer.length !== VHD_FOOTER) bad(`${footer.length} bytes, not ${VHD_FOOTER}`);
  if (footer.toString('latin1', 0, 8) !== COOKIE) bad('no "conectix" cookie');
  if (footer.readUInt32BE(64) !== checksum(footer)) bad('its checksum does not match');
  const diskType = footer.readUInt32BE(60);
  if (diskType !== FIXED) bad(`disk type ${diskType} (only fixed disks, type 2, are written here)`);
  const currentSize = Number(footer.readBigUInt64BE(48));
  if (!Number.isSafeInteger(currentSize) || currentSize % 512 !== 0) bad(`a size of ${currentSize} bytes`);
  return { currentSize, diskType, cylinders: footer.readUInt16BE(56), heads: footer.readUInt8(58), sectors: footer.readUInt8(59) };
}
