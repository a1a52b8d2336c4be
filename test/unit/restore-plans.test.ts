// The restores' plans as the operator sees them: an entire-VM restore shows the same phases
// wherever the VM goes, and an original-location rollback keeps the step names a restore has
// (the UI and the fault matrix address steps by name).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EntireVmLocalRestore } from '../../electron/restore/entire-vm-local.ts';
import { EntireVmVsphereRestore } from '../../electron/restore/entire-vm-vsphere.ts';
import { OriginalVmVsphereRestore } from '../../electron/restore/original-vm-vsphere.ts';

const names = (steps: readonly { name: string }[]): string[] => steps.map((step) => step.name);

test('an entire-VM restore has the same steps, named and titled alike, to a local folder and to vSphere', () => {
  assert.deepEqual(EntireVmVsphereRestore.plan.steps, EntireVmLocalRestore.plan.steps);
  assert.deepEqual(names(EntireVmLocalRestore.plan.steps), [
    'initialize',
    'restore-configuration',
    'create-snapshot',
    'transfer-disks',
    'commit-snapshot',
    'finalize',
  ]);
});

test('an original-location rollback has the step names of a restore, with its own titles', () => {
  assert.deepEqual(names(OriginalVmVsphereRestore.plan.steps), names(EntireVmLocalRestore.plan.steps));
  assert.equal(
    OriginalVmVsphereRestore.plan.steps.find((step) => step.name === 'create-snapshot')?.title,
    'Create the safety snapshot (kept)',
  );
});
