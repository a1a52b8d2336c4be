// The SG_IO addon (native/sg-io), loaded once. Where it cannot be used (not Linux, not built), the
// reason is kept and said by sgAvailable() and by the first open, instead of a failed require.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Data phase of one command, numbered as native/sg-io/sg_io.c expects. */
export const SgDirection = { none: 0, toDevice: 1, fromDevice: 2 } as const;
export type SgDirection = (typeof SgDirection)[keyof typeof SgDirection];

/** The sg_io_hdr's answer fields, as the addon copies them out. */
export type SgAnswer = {
  status: number;
  maskedStatus: number;
  hostStatus: number;
  driverStatus: number;
  resid: number;
  durationMs: number;
  info: number;
  sense: Uint8Array;
};

/** An Error from the addon whose ioctl failed: `errno` is the C errno (ENOTTY, ENODEV…). */
export type SgErrnoError = Error & { errno?: number };

export interface SgNative {
  sgIo(
    fd: number,
    cdb: Uint8Array,
    direction: SgDirection,
    buffer: Uint8Array | null,
    timeoutMs: number,
    callback: (error: SgErrnoError | null, answer?: SgAnswer) => void,
  ): void;
  /** The sg driver's version (30536 = 3.5.36); throws an SgErrnoError on an fd that is not sg. */
  sgVersion(fd: number): number;
}

const built = 'native/sg-io/build/Release/sg_io.node';
/** From the source tree (electron/drivers/scsi/sg/) and from the bundle (dist/electron/). */
const candidates = ['../../../../', '../../'].map((up) => fileURLToPath(new URL(up + built, import.meta.url)));

let loaded: SgNative | string | undefined;

function load(): SgNative | string {
  if (process.platform !== 'linux') return `SCSI generic devices exist only on Linux (this is ${process.platform})`;
  // A packaged app reads native modules from app.asar.unpacked, not from the archive.
  const path = candidates
    .map((candidate) => candidate.replace(/app\.asar([/\\])/, 'app.asar.unpacked$1'))
    .find((candidate) => existsSync(candidate));
  if (path === undefined) return `the SG_IO addon is not built (${built}): run npm install (it needs g++, make and python3)`;
  try {
    return createRequire(import.meta.url)(path) as SgNative;
  } catch (error) {
    return `the SG_IO addon ${path} does not load: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** The addon (loaded once), or the reason it cannot be used here. */
export function sgNative(): SgNative | string {
  loaded ??= load();
  return loaded;
}

/** null when /dev/sg* devices can be driven here, else why not (for the CLI and the console). */
export function sgAvailable(): string | null {
  const result = sgNative();
  return typeof result === 'string' ? result : null;
}
