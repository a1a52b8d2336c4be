// What the vSphere host offers the datastores and network steps: its datastores (free space) and
// networks, narrowed to the ESXi host the target names.
import type { HostInventory } from '../../../shared/domain.ts';
import type { TargetChoice } from '../../restore-answers.ts';

export function hostOffer(
  inventory: HostInventory | undefined,
  target: TargetChoice,
): { datastores: HostInventory['datastores']; networks: string[] } {
  const esx = inventory?.hostSystems.find((host) => host.name === target.hostSystem);
  return {
    datastores: inventory?.datastores.filter((ds) => !esx || esx.datastores.includes(ds.name)) ?? [],
    networks: esx?.networks ?? [...new Set(inventory?.hostSystems.flatMap((host) => host.networks) ?? [])],
  };
}
