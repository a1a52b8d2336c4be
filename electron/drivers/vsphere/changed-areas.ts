// Changed Block Tracking (CBT) on vSphere: turning it on for a VM, and asking the host which
// areas of a disk changed since the change id an earlier backup recorded, as a mask of the
// backup's blocks (1 = read it). The host's answer is outside input: every area is checked, and
// anything unexpected (a fault, an answer that is inconsistent or does not advance) becomes a
// fallback sentence — the backup then reads every block, which is always correct. A connection
// error is not a fallback: the backup fails with it.
import { LifeboatError } from '../../errors.ts';
import { VsphereFault } from './soap-client.ts';
import type { VsphereClient } from './vsphere-client.ts';
import { asArray, el, moRefXml, textOf, xml, type MoRef } from './xml.ts';

export type ChangedArea = { start: number; length: number };
/** One answer of QueryChangedDiskAreas: the changed areas inside [startOffset, startOffset + length). */
export type DiskChangeInfo = { startOffset: number; length: number; changedAreas: ChangedArea[] };
export type ChangedBlocks = { mask: Uint8Array; changedBytes: number } | { fallback: string };

const MIB = 1024 * 1024;
/** Answers allowed beyond one per MiB of disk: ESXi covers far more than a MiB per answer. */
const SPARE_CALLS = 16;
/** Faults that mean the change id is no longer valid: CBT was reset (a storage vMotion, a disk
 * restored or resized, a change id from before a reset). The name is the fault type without a
 * trailing "Fault" (soap-client.ts), so FileFault arrives as "File". */
const RESET_FAULTS = new Set(['File', 'FileFault', 'InvalidArgument']);
/** Faults of a host (or simulator) that has no CBT at all. */
const NO_CBT_FAULTS = new Set(['NotImplemented', 'MethodNotFound', 'NotSupported']);
/** Faults that are no answer about changed areas: the VM is gone or the session is, and the
 * backup cannot go on either way. */
const FAILING_FAULTS = new Set(['ManagedObjectNotFound', 'NotAuthenticated']);

async function flagOf(client: VsphereClient, vm: MoRef, path: string): Promise<boolean> {
  const [content] = await client.retrieve('VirtualMachine', [path], [vm]);
  return textOf(content?.props[path]) === 'true';
}

/** Turns CBT on for `vm` when its host can track changes; true when the VM then reports
 * config.changeTrackingEnabled. A host that does not offer it (capability.changeTrackingSupported
 * not true: the simulator, old virtual hardware) or refuses the reconfiguration gives false, not
 * an error: that backup reads every block. A dropped connection still throws. */
export async function enableChangeTracking(client: VsphereClient, vm: MoRef): Promise<boolean> {
  if (!(await flagOf(client, vm, 'capability.changeTrackingSupported'))) return false;
  if (await flagOf(client, vm, 'config.changeTrackingEnabled')) return true;
  const spec = el('spec', xml(el('changeTrackingEnabled', 'true')), { 'xsi:type': 'VirtualMachineConfigSpec' });
  try {
    await client.runTask('ReconfigVM_Task', vm, [spec], `enable Changed Block Tracking on ${vm.value}`);
  } catch (error) {
    // A refused or failed reconfiguration leaves CBT as it was; the read below says how it is
    // (and throws when the connection is what failed).
    if (!(error instanceof LifeboatError)) throw error;
  }
  return flagOf(client, vm, 'config.changeTrackingEnabled');
}

/** A byte offset or length of the answer: a non-negative safe integer in decimal, or null. */
function offsetOf(node: unknown): number | null {
  const text = textOf(node);
  if (!/^\d{1,16}$/.test(text)) return null;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : null;
}

/** Reads one answer (the parsed returnval) into a DiskChangeInfo, or says what is wrong with it. */
export function readDiskChangeInfo(returnval: unknown): DiskChangeInfo | string {
  if (!returnval || typeof returnval !== 'object') return 'an answer without a DiskChangeInfo';
  const record = returnval as Record<string, unknown>;
  const startOffset = offsetOf(record.startOffset);
  const length = offsetOf(record.length);
  if (startOffset === null || length === null) return 'an answer without a valid startOffset and length';
  const changedAreas: ChangedArea[] = [];
  for (const area of asArray(record.changedArea)) {
    const start = area && typeof area === 'object' ? offsetOf((area as Record<string, unknown>).start) : null;
    const areaLength = area && typeof area === 'object' ? offsetOf((area as Record<string, unknown>).length) : null;
    if (start === null || areaLength === null) return `an area without a valid start and length at ${startOffset}`;
    changedAreas.push({ start, length: areaLength });
  }
  return { startOffset, length, changedAreas };
}

/** Why the areas of one answer cannot be trusted, or null: each must lie inside the answer's
 * range and inside the disk, and none may be empty. */
function areasProblem(info: DiskChangeInfo, capacity: number): string | null {
  const end = info.startOffset + info.length;
  for (const area of info.changedAreas) {
    const areaEnd = area.start + area.length;
    if (area.length === 0) return `an empty area at ${area.start}`;
    if (area.start < info.startOffset || areaEnd > end)
      return `area ${area.start}+${area.length} lies outside its answer's ${info.startOffset}+${info.length}`;
    if (areaEnd > capacity) return `area ${area.start}+${area.length} ends beyond the disk's ${capacity} bytes`;
  }
  return null;
}

/** Marks the blocks any area touches; says which areas overlap (they may come in any order). */
function maskOf(areas: ChangedArea[], capacity: number, blockSize: number): ChangedBlocks | string {
  const mask = new Uint8Array(Math.ceil(capacity / blockSize));
  let changedBytes = 0;
  let previousEnd = 0;
  for (const area of [...areas].sort((a, b) => a.start - b.start)) {
    if (area.start < previousEnd) return `areas overlap at ${area.start}`;
    previousEnd = area.start + area.length;
    changedBytes += area.length;
    mask.fill(1, Math.floor(area.start / blockSize), Math.floor((previousEnd - 1) / blockSize) + 1);
  }
  return { mask, changedBytes };
}

/** The mask from the host's answers: `ask(startOffset)` gives the returnval of one
 * QueryChangedDiskAreas call. Asked from 0 on, each answer must start where it was asked and
 * advance, until the disk's capacity is covered, in a bounded number of calls. */
export async function changedBlocksFromAnswers(
  ask: (startOffset: number) => Promise<unknown>,
  capacity: number,
  blockSize: number,
): Promise<ChangedBlocks> {
  const inconsistent = (why: string): ChangedBlocks => ({
    fallback: `the host's changed areas are inconsistent (${why}): every block is read`,
  });
  const maxCalls = Math.ceil(capacity / MIB) + SPARE_CALLS;
  const areas: ChangedArea[] = [];
  let covered = 0;
  for (let call = 0; covered < capacity; call++) {
    if (call === maxCalls) return inconsistent(`${maxCalls} answers cover only ${covered} of ${capacity} bytes`);
    const info = readDiskChangeInfo(await ask(covered));
    if (typeof info === 'string') return inconsistent(info);
    if (info.startOffset !== covered) return inconsistent(`asked from ${covered}, the answer starts at ${info.startOffset}`);
    if (info.length === 0) return inconsistent(`the answer at ${covered} does not advance`);
    const problem = areasProblem(info, capacity);
    if (problem) return inconsistent(problem);
    areas.push(...info.changedAreas);
    covered = info.startOffset + info.length;
  }
  const mask = maskOf(areas, capacity, blockSize);
  return typeof mask === 'string' ? inconsistent(mask) : mask;
}

/** The blocks of a disk (at `snapshot`) changed since `previousChangeId`, or the sentence saying
 * why every block is to be read instead. */
export async function changedBlocksSince(options: {
  client: VsphereClient;
  vm: MoRef;
  snapshot: MoRef;
  deviceKey: number;
  capacity: number;
  blockSize: number;
  previousChangeId: string | null;
  currentChangeId: string | null;
}): Promise<ChangedBlocks> {
  const { client, vm, snapshot, deviceKey, previousChangeId } = options;
  if (previousChangeId === null) return { fallback: 'no change id from the previous point: every block is read' };
  if (options.currentChangeId === null) return { fallback: `the host reports no change id for disk ${deviceKey}: every block is read` };
  const ask = (startOffset: number): Promise<unknown> =>
    client.soap.call('QueryChangedDiskAreas', vm, [
      moRefXml('snapshot', snapshot),
      el('deviceKey', deviceKey),
      el('startOffset', startOffset),
      el('changeId', previousChangeId),
    ]);
  try {
    return await changedBlocksFromAnswers(ask, options.capacity, options.blockSize);
  } catch (error) {
    if (!(error instanceof VsphereFault) || FAILING_FAULTS.has(error.fault)) throw error;
    if (RESET_FAULTS.has(error.fault))
      return { fallback: `Changed Block Tracking was reset for disk ${deviceKey} (${error.message}): every block is read` };
    if (NO_CBT_FAULTS.has(error.fault))
      return { fallback: `the host has no Changed Block Tracking (${error.message}): every block is read` };
    return { fallback: `the host could not list changed areas of disk ${deviceKey} (${error.message}): every block is read` };
  }
}
