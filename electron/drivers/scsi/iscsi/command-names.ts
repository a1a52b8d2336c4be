// Names for the CDBs a tape library sees, for the sentences an operator reads when one fails on the wire.
const NAMES: Record<number, string> = {
  0x00: 'TEST UNIT READY',
  0x01: 'REWIND',
  0x03: 'REQUEST SENSE',
  0x05: 'READ BLOCK LIMITS',
  0x07: 'INITIALIZE ELEMENT STATUS',
  0x08: 'READ(6)',
  0x0a: 'WRITE(6)',
  0x10: 'WRITE FILEMARKS',
  0x11: 'SPACE',
  0x12: 'INQUIRY',
  0x15: 'MODE SELECT(6)',
  0x1a: 'MODE SENSE(6)',
  0x1b: 'LOAD/UNLOAD',
  0x1e: 'PREVENT/ALLOW MEDIUM REMOVAL',
  0x2b: 'LOCATE(10)',
  0x34: 'READ POSITION',
  0x55: 'MODE SELECT(10)',
  0x5a: 'MODE SENSE(10)',
  0x91: 'SPACE(16)',
  0x92: 'LOCATE(16)',
  0xa0: 'REPORT LUNS',
  0xa5: 'MOVE MEDIUM',
  0xb8: 'READ ELEMENT STATUS',
};

export function commandName(cdb: Uint8Array): string {
  const opcode = cdb[0] ?? 0;
  return NAMES[opcode] ?? `SCSI command ${opcode.toString(16).padStart(2, '0')}h`;
}
