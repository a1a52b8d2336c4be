// One Linux SCSI generic device (/dev/sgN: a changer or a tape drive of a SAS/FC library) as the
// seam's ScsiDevice. Commands go one at a time per device, in the order they were given, because
// a tape's position is their shared state. An abort is honoured up to the moment the command is
// handed to the kernel: an issued SG_IO cannot be withdrawn, so it finishes (or times out) first.
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { LifeboatError } from '../../../errors.ts';
import type { ScsiCommand, ScsiDevice, ScsiResult } from '../scsi-device.ts';
import { errnoName, opcodeName, sgIoctlError, sgRequest, sgResult, type SgRequest } from './sg-answer.ts';
import { sgNative, type SgNative } from './sg-native.ts';

/** SCSI_GENERIC_MAJOR: every /dev/sgN is a character device of major 21. */
const sgMajor = 21;
/** SG_IO with struct sg_io_hdr needs the sg driver of version 3 or later. */
const minimumVersion = 30_000;

function major(rdev: number): number {
  return Math.floor(rdev / 256) & 0xfff;
}

function notSg(path: string): LifeboatError {
  return new LifeboatError(
    'bad-request',
    `${path} is not a Linux SCSI generic device (sg); use the /dev/sgN of the library's changer and drives`,
  );
}

function openError(error: unknown, path: string): LifeboatError {
  const cause = { cause: error };
  const name = errnoName(error);
  if (name === 'ENOENT')
    return new LifeboatError(
      'not-found',
      `${path} does not exist; lsscsi -g lists the sg devices of the library's changer and drives`,
      cause,
    );
  if (name === 'EACCES' || name === 'EPERM')
    return new LifeboatError(
      'unavailable',
      `${path}: permission denied; the user running Lifeboat needs read and write access to it (Debian gives the sg devices of tape drives and changers to the group tape)`,
      cause,
    );
  if (name === 'EBUSY') return new LifeboatError('conflict', `${path} is held exclusively by another program`, cause);
  if (name === 'ENXIO' || name === 'ENODEV')
    return new LifeboatError(
      'unavailable',
      `${path}: no device answers behind it (${name}); the sg driver is not loaded or the device was removed`,
      cause,
    );
  return new LifeboatError('unavailable', `${path} cannot be opened (${name})`, cause);
}

export class SgDevice implements ScsiDevice {
  readonly address: string;
  readonly #handle: FileHandle;
  readonly #native: SgNative;
  /** Set by close(): commands given after it are refused; those given before still run. */
  #closing = false;
  /** The last queued command: the next one starts when it settles. */
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(address: string, handle: FileHandle, native: SgNative) {
    this.address = address;
    this.#handle = handle;
    this.#native = native;
  }

  /** Opens `path` read-write after checking it is an sg device (not a disk, not /dev/st0, whose close would rewind). */
  static async open(path: string): Promise<SgDevice> {
    const native = sgNative();
    if (typeof native === 'string') throw new LifeboatError('unavailable', `${path} cannot be used: ${native}`);
    const info = await stat(path).catch((error: unknown) => {
      throw openError(error, path);
    });
    if (!info.isCharacterDevice() || major(info.rdev) !== sgMajor) throw notSg(path);
    const handle = await open(path, constants.O_RDWR | constants.O_NONBLOCK).catch((error: unknown) => {
      throw openError(error, path);
    });
    try {
      const version = native.sgVersion(handle.fd);
      if (version < minimumVersion)
        throw new LifeboatError('unavailable', `${path}: the kernel's sg driver is version ${version}; SG_IO needs 3.0 or later`);
    } catch (error) {
      await handle.close();
      throw error instanceof LifeboatError ? error : notSg(path);
    }
    return new SgDevice(path, handle, native);
  }

  execute(command: ScsiCommand): Promise<ScsiResult> {
    if (this.#closing) return Promise.reject(new LifeboatError('unavailable', `${this.address} is closed`));
    const queued = this.#tail.then(() => this.#issue(command));
    this.#tail = queued.catch(() => undefined);
    return queued;
  }

  /** Runs what was already given (the kernel may hold a buffer of it), then lets go of the device. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    await this.#tail;
    await this.#handle.close();
  }

  #issue(command: ScsiCommand): Promise<ScsiResult> {
    const request = sgRequest(command, this.address);
    if (command.signal?.aborted)
      throw new LifeboatError('cancelled', `${this.address}: ${opcodeName(request.cdb)} was cancelled before it was sent`);
    return this.#send(this.#handle.fd, request);
  }

  #send(fd: number, request: SgRequest): Promise<ScsiResult> {
    return new Promise((resolve, reject) => {
      this.#native.sgIo(fd, request.cdb, request.direction, request.buffer, request.timeoutMs, (error, answer) => {
        if (error !== null || answer === undefined) reject(sgIoctlError(error ?? new Error('SG_IO gave no answer'), request, this.address));
        else {
          try {
            resolve(sgResult(answer, request, this.address));
          } catch (failure) {
            reject(failure);
          }
        }
      });
    });
  }
}
