// One volume looked at as an LVM2 physical volume: its label, and the newest metadata among its
// metadata areas (a PV may carry two; either may be damaged or behind the other).
import type { Disk } from '../../disks/disk.ts';
import { LifeboatError } from '../../errors.ts';
import { isReadFailure } from '../file-system.ts';
import { parseMetadataText } from './metadata-text.ts';
import { findPvLabel, parsePvLabel, readMetadataText } from './physical-volume.ts';
import { readVolumeGroup } from './volume-group.ts';
import type { FoundPv } from './volume-groups.ts';

/** Null when the volume has no LVM2 label; a damaged label or metadata fails with why. A PV whose
 * metadata areas hold nothing (an orphan, or made with --metadatacopies 0) has metadata null. */
export async function probePhysicalVolume(disk: Disk, path: string): Promise<FoundPv | null> {
  const found = await findPvLabel(disk);
  if (!found) return null;
  const label = parsePvLabel(found.bytes, found.sector, disk);
  let metadata = null;
  const failures: string[] = [];
  for (const area of label.metadataAreas) {
    try {
      const text = await readMetadataText(disk, area);
      if (!text) continue;
      const vg = readVolumeGroup(parseMetadataText(text.text));
      if (!metadata || vg.seqno > metadata.seqno) metadata = vg;
    } catch (error) {
      if (!isReadFailure(error)) throw error;
      failures.push(error.message);
    }
  }
  if (!metadata && failures.length > 0)
    throw new LifeboatError('corrupt-disk', `LVM2 physical volume ${label.uuid}: no readable metadata (${failures.join('; ')})`);
  return { path, disk, label, metadata };
}
