// A VM's snapshots by name: the `snapshot` property's tree (VirtualMachineSnapshotInfo) walked
// for the snapshots a job named, so a backup's snapshot can be found again after a crash.
import type { VsphereClient } from './vsphere-client.ts';
import { asArray, moRefOf, textOf, type MoRef } from './xml.ts';

/** Deeper than any real tree (vSphere allows 32 snapshots in a chain): a malformed answer
 * cannot make the walk recurse without end. */
const MAX_DEPTH = 256;

/** The snapshots called `name` in a parsed `snapshot` property; whatever is not a tree is skipped. */
export function snapshotsNamedIn(info: unknown, name: string): MoRef[] {
  const found: MoRef[] = [];
  const walk = (list: unknown, depth: number): void => {
    if (depth > MAX_DEPTH) return;
    for (const tree of asArray(list)) {
      if (typeof tree !== 'object' || tree === null) continue;
      const node = tree as Record<string, unknown>;
      const ref = moRefOf(node.snapshot);
      if (textOf(node.name) === name && ref.value !== '') found.push(ref);
      walk(node.childSnapshotList, depth + 1);
    }
  };
  if (typeof info === 'object' && info !== null) walk((info as Record<string, unknown>).rootSnapshotList, 0);
  return found;
}

export async function snapshotsNamed(client: VsphereClient, vm: MoRef, name: string): Promise<MoRef[]> {
  const [content] = await client.retrieve('VirtualMachine', ['snapshot'], [vm]);
  return snapshotsNamedIn(content?.props.snapshot, name);
}
