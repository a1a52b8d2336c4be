// A restore point's manifest as an engine records it, for tests that fill a catalog themselves:
// `vm-web` is named `web`; a point with no parent is a full one.
import type { Manifest } from '../../electron/repository/manifest.ts';

export function pointManifest(id: string, vmId: string, sequence: number, parentId: string | null = null): Manifest {
  return {
    format: 'lifeboat-point',
    version: 1,
    id,
    vmId,
    vmName: vmId.replace('vm-', ''),
    sequence,
    kind: parentId === null ? 'full' : 'incremental',
    parentId,
    createdAt: new Date(Date.UTC(2025, 0, sequence)).toISOString(),
    blockSize: 1 << 20,
    vmConfig: { fileName: 'web.vmx', text: '' },
    disks: [],
    dataFile: { name: 'data.lbd', size: 0 },
    stats: { scannedBytes: 100 * sequence, changedBytes: 10 * sequence, storedBytes: 5 * sequence, dedupedBlocks: 0 },
  } as Manifest;
}
