// A disk's Changed Block Tracking change id in a point's manifest: optional (points without it
// stay valid), printable, bounded; the manifest checker takes a point that has one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { vmxText } from '../../electron/lab/create-lab.ts';
import { manifestProblem } from '../../electron/repository/manifest-check.ts';
import { Manifest, POINT_FORMAT, POINT_FORMAT_VERSION } from '../../electron/repository/manifest.ts';

const ESXI_CHANGE_ID = '52 de c0 d9 98 32 ed 02-ef 1a ff 44 a6 fd 21 37/25';

function manifestWith(changeId: unknown): unknown {
  return {
    format: POINT_FORMAT,
    version: POINT_FORMAT_VERSION,
    id: 'b5f7c1a2-0000-4000-8000-000000000001',
    vmId: 'web01-1a2b3c4d',
    vmName: 'web01',
    sequence: 1,
    kind: 'full',
    parentId: null,
    createdAt: '2026-12-03T07:00:00.000Z',
    blockSize: 1024 * 1024,
    vmConfig: { fileName: 'web01.vmx', text: vmxText('web01', ['web01.vmdk'], '56 4d 00 11 22 33 44 55-66 77 88 99 aa bb cc dd') },
    disks: [
      {
        key: 'scsi0:0',
        fileName: 'web01.vmdk',
        capacity: 16 * 1024 * 1024,
        mapFile: 'disk-0.map',
        mapSha256: 'a'.repeat(64),
        mapEntries: 3,
        sourceFormat: 'vmdk-flat',
        ...(changeId === undefined ? {} : { changeId }),
      },
    ],
    dataFile: { name: 'data.lbd', size: 0 },
    stats: { scannedBytes: 0, changedBytes: 0, storedBytes: 0, dedupedBlocks: 0 },
    dependsOn: [],
  };
}

test('a manifest with the change id ESXi reports parses and passes the checker; one without still does', () => {
  const withId = Manifest.parse(manifestWith(ESXI_CHANGE_ID));
  assert.equal(withId.disks[0]?.changeId, ESXI_CHANGE_ID);
  assert.equal(manifestProblem(withId), null);
  const without = Manifest.parse(manifestWith(undefined));
  assert.equal(without.disks[0]?.changeId, undefined);
  assert.equal(manifestProblem(without), null);
});

test('a change id that is empty, too long, not printable or not a string is refused', () => {
  for (const bad of ['', 'x'.repeat(257), 'id\nwith a line break', 'id\u0000', 'idé', 25, null]) {
    assert.equal(Manifest.safeParse(manifestWith(bad)).success, false, JSON.stringify(bad));
  }
  assert.equal(Manifest.safeParse(manifestWith('x'.repeat(256))).success, true);
});
