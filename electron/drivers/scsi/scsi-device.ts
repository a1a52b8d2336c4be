// The one seam between the SCSI command layer (tape drives, media changers) and the wire that
// carries commands to them: an iSCSI session's LUN, or a Linux SCSI generic device. A command
// is a CDB with at most one data phase; the answer is the SCSI status, the data that came in and
// the sense bytes. Transport failures (connection lost, timeout) are thrown as LifeboatError;
// a CHECK CONDITION is an answer, not a throw: the command layer decodes the sense.

export type TaskAttribute = 'simple' | 'ordered' | 'head-of-queue';

export type ScsiCommand = {
  cdb: Uint8Array;
  /** Bytes the command sends (WRITE, MODE SELECT); absent for none and data-in. */
  dataOut?: Uint8Array;
  /** Most bytes the command may return (READ, INQUIRY); absent or 0 for none and data-out. */
  dataInLength?: number;
  /** Tape commands must run in order; defaults to 'ordered'. */
  attribute?: TaskAttribute;
  /** Rewinds and locates on a full tape take minutes: callers set long timeouts where due. */
  timeoutMs?: number;
  signal?: AbortSignal;
};

export const ScsiStatus = {
  good: 0x00,
  checkCondition: 0x02,
  conditionMet: 0x04,
  busy: 0x08,
  reservationConflict: 0x18,
  taskSetFull: 0x28,
  acaActive: 0x30,
  taskAborted: 0x40,
} as const;

export type ScsiResult = {
  status: number;
  /** The data-in bytes received (may be shorter than asked: see residual). */
  data: Uint8Array;
  /** Bytes asked for but not transferred (underflow), as the target reported. */
  residual: number;
  /** Sense bytes of a CHECK CONDITION (fixed or descriptor format), else null. */
  sense: Uint8Array | null;
};

export interface ScsiDevice {
  /** For messages and logs: `iscsi://127.0.0.1:3260/iqn.…/lun 2`, `/dev/sg3`. */
  readonly address: string;
  execute(command: ScsiCommand): Promise<ScsiResult>;
}

/** What a library is reached through: its logical units, and a way to let go of the wire. */
export interface ScsiBus {
  readonly address: string;
  /** The logical units the bus offers (for iSCSI: REPORT LUNS; for sg: the named devices). */
  devices(): Promise<ScsiDevice[]>;
  close(): Promise<void>;
}
