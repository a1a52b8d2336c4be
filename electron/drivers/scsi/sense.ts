// Sense data (SPC-4 4.5): what a device says after CHECK CONDITION. Both formats are decoded —
// fixed (70h current, 71h deferred) and descriptor (72h, 73h) — into one shape. For tape the
// INFORMATION field is a signed residual (SSC: requested minus actual; negative when the block on
// tape was longer than asked), so it is decoded as a two's complement number.
import { byteOr0, hex, malformed, readSigned } from './cdb.ts';

export type SenseData = {
  senseKey: number;
  asc: number;
  ascq: number;
  /** SSC: a filemark was read or spaced over. */
  filemark: boolean;
  /** SSC: early warning or end of partition (the meaning depends on the sense key). */
  endOfMedium: boolean;
  /** SSC: the block's length differs from the length asked (the residual is in `information`). */
  incorrectLength: boolean;
  information: number | null;
  descriptorFormat: boolean;
  /** The error belongs to an earlier command (buffered writes). */
  deferred: boolean;
};

export const SenseKey = {
  noSense: 0,
  recoveredError: 1,
  notReady: 2,
  mediumError: 3,
  hardwareError: 4,
  illegalRequest: 5,
  unitAttention: 6,
  dataProtect: 7,
  blankCheck: 8,
  vendorSpecific: 9,
  copyAborted: 10,
  abortedCommand: 11,
  volumeOverflow: 13,
  miscompare: 14,
} as const;

const WHAT = 'sense data';

export function decodeSense(bytes: Uint8Array): SenseData {
  if (bytes.length === 0) throw malformed(WHAT, 'it is empty');
  const code = bytes[0]! & 0x7f;
  if (code === 0x70 || code === 0x71) return decodeFixed(bytes, code === 0x71);
  if (code === 0x72 || code === 0x73) return decodeDescriptor(bytes, code === 0x73);
  throw malformed(WHAT, `response code ${hex(code)} is neither fixed (70h/71h) nor descriptor (72h/73h) format`);
}

function decodeFixed(bytes: Uint8Array, deferred: boolean): SenseData {
  if (bytes.length < 3) throw malformed(WHAT, `${bytes.length} bytes end before the sense key`);
  const flags = bytes[2]!;
  const valid = (bytes[0]! & 0x80) !== 0 && bytes.length >= 7;
  return {
    senseKey: flags & 0x0f,
    // ASC and ASCQ sit at bytes 12 and 13; a device may send fewer bytes (then they are 0).
    asc: byteOr0(bytes, 12),
    ascq: byteOr0(bytes, 13),
    filemark: (flags & 0x80) !== 0,
    endOfMedium: (flags & 0x40) !== 0,
    incorrectLength: (flags & 0x20) !== 0,
    information: valid ? readSigned(bytes, 3, 4, WHAT) : null,
    descriptorFormat: false,
    deferred,
  };
}

function decodeDescriptor(bytes: Uint8Array, deferred: boolean): SenseData {
  if (bytes.length < 2) throw malformed(WHAT, `${bytes.length} bytes end before the sense key`);
  const sense: SenseData = {
    senseKey: bytes[1]! & 0x0f,
    asc: byteOr0(bytes, 2),
    ascq: byteOr0(bytes, 3),
    filemark: false,
    endOfMedium: false,
    incorrectLength: false,
    information: null,
    descriptorFormat: true,
    deferred,
  };
  // Descriptors follow the 8-byte header, as many as the additional length says and the bytes
  // hold; one cut short by a truncated transfer is left out rather than refused.
  const end = Math.min(bytes.length, 8 + byteOr0(bytes, 7));
  for (let at = 8; at + 2 <= end; at += 2 + bytes[at + 1]!) {
    const type = bytes[at]!;
    const length = bytes[at + 1]!;
    if (at + 2 + length > end) break;
    if (type === 0x00 && length >= 0x0a && (bytes[at + 2]! & 0x80) !== 0) sense.information = readSigned(bytes, at + 4, 8, WHAT);
    if (type === 0x04 && length >= 2) {
      const flags = bytes[at + 3]!;
      sense.filemark = (flags & 0x80) !== 0;
      sense.endOfMedium = (flags & 0x40) !== 0;
      sense.incorrectLength = (flags & 0x20) !== 0;
    }
  }
  return sense;
}

const keyNames = [
  'NO SENSE',
  'RECOVERED ERROR',
  'NOT READY',
  'MEDIUM ERROR',
  'HARDWARE ERROR',
  'ILLEGAL REQUEST',
  'UNIT ATTENTION',
  'DATA PROTECT',
  'BLANK CHECK',
  'VENDOR SPECIFIC',
  'COPY ABORTED',
  'ABORTED COMMAND',
  'RESERVED (0Ch)',
  'VOLUME OVERFLOW',
  'MISCOMPARE',
  'COMPLETED',
];

// The ASC/ASCQ pairs a tape drive or a media changer reports in practice (SPC-4 Annex D), keyed
// by (asc << 8 | ascq).
const additional = new Map<number, string>([
  [0x0000, 'no additional sense information'],
  [0x0001, 'filemark detected'],
  [0x0002, 'end of partition/medium detected'],
  [0x0003, 'setmark detected'],
  [0x0004, 'beginning of partition/medium detected'],
  [0x0005, 'end of data detected'],
  [0x0007, 'programmable early warning detected'],
  [0x0016, 'operation in progress'],
  [0x0017, 'cleaning requested'],
  [0x0400, 'logical unit not ready, cause not reportable'],
  [0x0401, 'logical unit is becoming ready'],
  [0x0402, 'logical unit not ready, initializing command required'],
  [0x0403, 'logical unit not ready, manual intervention required'],
  [0x0407, 'logical unit not ready, operation in progress'],
  [0x0412, 'logical unit not ready, offline'],
  [0x0800, 'logical unit communication failure'],
  [0x0c00, 'write error'],
  [0x1100, 'unrecovered read error'],
  [0x1101, 'read retries exhausted'],
  [0x1400, 'recorded entity not found'],
  [0x1401, 'record not found'],
  [0x1402, 'filemark or setmark not found'],
  [0x1403, 'end of data not found'],
  [0x1404, 'block sequence error'],
  [0x1500, 'random positioning error'],
  [0x1501, 'mechanical positioning error'],
  [0x1a00, 'parameter list length error'],
  [0x2000, 'invalid command operation code'],
  [0x2101, 'invalid element address'],
  [0x2400, 'invalid field in CDB'],
  [0x2500, 'logical unit not supported'],
  [0x2600, 'invalid field in parameter list'],
  [0x2601, 'parameter not supported'],
  [0x2602, 'parameter value invalid'],
  [0x2700, 'write protected'],
  [0x2800, 'not ready to ready change, medium may have changed'],
  [0x2801, 'import or export element accessed'],
  [0x2900, 'power on, reset, or bus device reset occurred'],
  [0x2901, 'power on occurred'],
  [0x2902, 'SCSI bus reset occurred'],
  [0x2903, 'bus device reset function occurred'],
  [0x2904, 'device internal reset'],
  [0x2907, 'I_T nexus loss occurred'],
  [0x2a01, 'mode parameters changed'],
  [0x2f00, 'commands cleared by another initiator'],
  [0x3000, 'incompatible medium installed'],
  [0x3001, 'cannot read medium, unknown format'],
  [0x3002, 'cannot read medium, incompatible format'],
  [0x3003, 'cleaning cartridge installed'],
  [0x3005, 'cannot write medium, incompatible format'],
  [0x3100, 'medium format corrupted'],
  [0x3300, 'tape length error'],
  [0x3a00, 'medium not present'],
  [0x3b00, 'sequential positioning error'],
  [0x3b01, 'tape position error at beginning of medium'],
  [0x3b02, 'tape position error at end of medium'],
  [0x3b08, 'reposition error'],
  [0x3b0d, 'medium destination element full'],
  [0x3b0e, 'medium source element empty'],
  [0x3b11, 'medium magazine not accessible'],
  [0x3b12, 'medium magazine removed'],
  [0x3b13, 'medium magazine inserted'],
  [0x3b14, 'medium magazine locked'],
  [0x3b15, 'medium magazine unlocked'],
  [0x3d00, 'invalid bits in identify message'],
  [0x3f01, 'microcode has been changed'],
  [0x3f0e, 'reported LUNs data has changed'],
  [0x4400, 'internal target failure'],
  [0x4700, 'SCSI parity error'],
  [0x4b00, 'data phase error'],
  [0x5000, 'write append error'],
  [0x5001, 'write append position error'],
  [0x5100, 'erase failure'],
  [0x5200, 'cartridge fault'],
  [0x5300, 'media load or eject failed'],
  [0x5301, 'unload tape failure'],
  [0x5302, 'medium removal prevented'],
  [0x5a01, 'operator medium removal request'],
  [0x5d00, 'failure prediction threshold exceeded'],
  [0x8300, 'vendor specific: drive needs cleaning'],
]);

/** "MEDIUM ERROR: unrecovered read error (11h/00h)", with the tape flags when they are set. */
export function describeSense(sense: SenseData): string {
  const key = keyNames[sense.senseKey & 0x0f] ?? 'UNKNOWN';
  const what = additional.get((sense.asc << 8) | sense.ascq) ?? (sense.asc >= 0x80 ? 'vendor-specific condition' : 'unlisted condition');
  const flags = [
    sense.filemark && 'filemark',
    sense.endOfMedium && 'end of medium',
    sense.incorrectLength && 'incorrect length',
    sense.deferred && 'deferred',
  ].filter((flag): flag is string => typeof flag === 'string');
  return `${key}: ${what} (${hex(sense.asc)}/${hex(sense.ascq)})${flags.length > 0 ? ` [${flags.join(', ')}]` : ''}`;
}

/** Whether the sense has this key (and this ASC, ASCQ when given). */
export function isSense(sense: SenseData | null, key: number, asc?: number, ascq?: number): boolean {
  return (
    sense !== null && sense.senseKey === key && (asc === undefined || sense.asc === asc) && (ascq === undefined || sense.ascq === ascq)
  );
}
