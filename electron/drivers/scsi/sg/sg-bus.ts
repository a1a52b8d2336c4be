// A SAS/FC tape library as the kernel shows it: one /dev/sgN for the changer and one per drive.
// The bus is the list the operator named (sg:/dev/sg3,/dev/sg4), opened together and closed together.
import { stat } from 'node:fs/promises';
import { LifeboatError } from '../../../errors.ts';
import type { ScsiBus, ScsiDevice } from '../scsi-device.ts';
import { SgDevice } from './sg-device.ts';

/** The module others import: the bus, its address parser, and whether sg can be used here. */
export { sgAvailable } from './sg-native.ts';

/** `sg:/dev/sg3[,/dev/sg4…]` → the device paths, each absolute and named once. */
export function parseSgUrl(url: string): string[] {
  const match = /^sg:(.*)$/s.exec(url.trim());
  if (match === null)
    throw new LifeboatError(
      'bad-request',
      `${url} is not an sg: address; write sg:/dev/sg3,/dev/sg4 (the changer's and the drives' sg devices)`,
    );
  const paths = (match[1] ?? '').split(',').map((path) => path.trim());
  for (const path of paths) {
    if (!path.startsWith('/')) throw new LifeboatError('bad-request', `${url}: "${path}" is not an absolute device path such as /dev/sg3`);
    if (/[\0\n]/.test(path)) throw new LifeboatError('bad-request', `${url}: a device path cannot hold a NUL or a line break`);
  }
  const repeated = paths.find((path, index) => paths.indexOf(path) !== index);
  if (repeated !== undefined) throw new LifeboatError('bad-request', `${url} names ${repeated} twice`);
  return paths;
}

/** Two paths to one device (a udev link and its /dev/sgN) would let two commands reach a drive at once. */
async function refuseSameDevice(paths: string[]): Promise<void> {
  const seen = new Map<number, string>();
  for (const path of paths) {
    const info = await stat(path).catch(() => null); // SgDevice.open says what is wrong with a path
    if (info === null || !info.isCharacterDevice()) continue;
    const other = seen.get(info.rdev);
    if (other !== undefined)
      throw new LifeboatError('bad-request', `${other} and ${path} are the same device; name each of the library's devices once`);
    seen.set(info.rdev, path);
  }
}

export class SgBus implements ScsiBus {
  readonly address: string;
  readonly #devices: SgDevice[];

  private constructor(devices: SgDevice[]) {
    this.#devices = devices;
    this.address = `sg:${devices.map((device) => device.address).join(',')}`;
  }

  /** Opens every path, or none: a failure closes the ones already open and says which path failed. */
  static async open(paths: string[]): Promise<SgBus> {
    if (paths.length === 0) throw new LifeboatError('bad-request', 'an sg library needs at least one device (/dev/sgN)');
    await refuseSameDevice(paths);
    const devices: SgDevice[] = [];
    try {
      for (const path of paths) devices.push(await SgDevice.open(path));
    } catch (error) {
      await Promise.allSettled(devices.map((device) => device.close()));
      throw error;
    }
    return new SgBus(devices);
  }

  async devices(): Promise<ScsiDevice[]> {
    return [...this.#devices];
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#devices.map((device) => device.close()));
  }
}
