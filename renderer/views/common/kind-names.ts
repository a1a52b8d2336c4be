// Readable names of job kinds, as an operator says them; one entry per JobKind (a unit test checks
// coverage and that no two kinds read alike).
import type { JobKind } from '../../../shared/domain.ts';

const kindNames: Record<JobKind, string> = {
  backup: 'Backup',
  'restore-entire-vm': 'Entire VM restore',
  'restore-items': 'File restore',
  verify: 'Backup verification',
  index: 'File indexing',
  'tape-backup': 'Backup to tape',
  'tape-restore': 'Tape restore',
  'tape-stage': 'Tape staging',
  'tape-catalog': 'Tape cataloguing',
  rehearsal: 'Restore rehearsal',
  'instant-start': 'Instant Recovery start',
  'instant-stop': 'Instant Recovery stop',
  'instant-migrate': 'Instant Recovery migration',
  'restore-from-snapshot': 'Restore from array snapshot',
  'restore-disks': 'Disk restore',
  'restore-azure': 'Restore to Azure',
  copy: 'Backup copy',
};

export function kindName(kind: JobKind): string {
  return kindNames[kind];
}
