// What a set of logical units is as a tape library: INQUIRY finds the media changer (type 8)
// and the tape drives (type 1); the changer's element address assignment (MODE SENSE 1Dh) says
// where its slots, drives and mail slots are; each drive is matched to its data-transfer
// element by the serial number the changer reports for it (DVCID) against the drive's own (VPD
// 80h), or, when the changer offers none, by ascending LUN against ascending element address.
import { LifeboatError } from '../../errors.ts';
import { inquiry, PeripheralType, testUnitReady, unitSerialNumber, type InquiryData } from './inquiry.ts';
import type { ScsiDevice } from './scsi-device.ts';
import { describeSense } from './sense.ts';
import { elementAddresses, readElementStatus, type ElementAddresses, type ElementStatus } from './smc.ts';

/** How drives were matched to the changer's data-transfer elements. */
export type DriveMapping = 'identifier' | 'address-order';

export type UnitInfo = InquiryData & { address: string; serial: string | null };
export type DiscoveredDrive = UnitInfo & { device: ScsiDevice; element: number };

export type DiscoveredLibrary = {
  changer: UnitInfo & { device: ScsiDevice };
  elements: ElementAddresses;
  /** In ascending element address order: drive index i is the i-th data-transfer element reached. */
  drives: DiscoveredDrive[];
  mapping: DriveMapping;
};

type Unit = { device: ScsiDevice; inquiry: InquiryData };

function lunOf(device: ScsiDevice): number {
  const lun = (device as { lun?: unknown }).lun;
  return typeof lun === 'number' ? lun : Number.MAX_SAFE_INTEGER;
}

function summary(units: Unit[]): string {
  return units.map((unit) => `${unit.device.address} (type ${unit.inquiry.peripheralType}, ${unit.inquiry.product.trim()})`).join(', ');
}

export async function discoverLibrary(devices: ScsiDevice[], preferredChanger?: ScsiDevice): Promise<DiscoveredLibrary> {
  const units: Unit[] = [];
  for (const device of devices) units.push({ device, inquiry: await inquiry(device) });
  const changerUnit = preferredChanger
    ? { device: preferredChanger, inquiry: await inquiry(preferredChanger) }
    : units.find((unit) => unit.inquiry.peripheralType === PeripheralType.changer);
  if (!changerUnit)
    throw new LifeboatError('not-found', `no media changer among the ${units.length} logical unit(s): ${summary(units) || 'none'}`);
  const tapes = units
    .filter((unit) => unit.inquiry.peripheralType === PeripheralType.tape)
    .sort((a, b) => lunOf(a.device) - lunOf(b.device));
  if (tapes.length === 0)
    throw new LifeboatError('not-found', `no tape drive among the ${units.length} logical unit(s): ${summary(units)}`);
  const notReady = await testUnitReady(changerUnit.device);
  if (notReady)
    throw new LifeboatError('unavailable', `the media changer at ${changerUnit.device.address} is not ready: ${describeSense(notReady)}`);
  const elements = await elementAddresses(changerUnit.device);
  const driveElements = (await readElementStatus(changerUnit.device, { type: 'data-transfer', identifiers: true }))
    .filter((element) => element.type === 'data-transfer')
    .sort((a, b) => a.address - b.address);
  const withSerials: (UnitInfo & { device: ScsiDevice })[] = [];
  for (const unit of tapes)
    withSerials.push({ ...unit.inquiry, device: unit.device, address: unit.device.address, serial: await unitSerialNumber(unit.device) });
  const byIdentifier = matchByIdentifier(driveElements, withSerials);
  const drives = byIdentifier ?? matchByOrder(driveElements, withSerials);
  if (drives.length === 0)
    throw new LifeboatError(
      'not-found',
      `the media changer at ${changerUnit.device.address} reports no data-transfer element for the drives ${summary(tapes)}`,
    );
  return {
    changer: {
      ...changerUnit.inquiry,
      device: changerUnit.device,
      address: changerUnit.device.address,
      serial: await unitSerialNumber(changerUnit.device),
    },
    elements,
    drives,
    mapping: byIdentifier ? 'identifier' : 'address-order',
  };
}

/** Each element matched to the drive whose serial number its identifier carries; null unless
 * every element has an identifier naming a distinct drive reached here (a partial match would
 * mix two orders, so it falls back to address order as a whole). */
export function matchByIdentifier(elements: ElementStatus[], drives: (UnitInfo & { device: ScsiDevice })[]): DiscoveredDrive[] | null {
  const matched: DiscoveredDrive[] = [];
  const used = new Set<ScsiDevice>();
  for (const element of elements) {
    const identifier = element.identifier?.trim();
    if (!identifier) return null;
    const owners = drives.filter((drive) => {
      const serial = drive.serial?.trim();
      return !!serial && identifier.includes(serial) && !used.has(drive.device);
    });
    // Serials that are prefixes of one another ("A1", "A12"): the longest is the one meant.
    const owner = owners.sort((a, b) => (b.serial?.trim().length ?? 0) - (a.serial?.trim().length ?? 0))[0];
    if (!owner) return null;
    used.add(owner.device);
    matched.push({ ...owner, element: element.address });
  }
  return matched.length > 0 ? matched : null;
}

/** Ascending LUN against ascending element address; spare elements or drives are left out. */
export function matchByOrder(elements: ElementStatus[], drives: (UnitInfo & { device: ScsiDevice })[]): DiscoveredDrive[] {
  return elements.slice(0, drives.length).flatMap((element, i) => {
    const drive = drives[i];
    return drive ? [{ ...drive, element: element.address }] : [];
  });
}
