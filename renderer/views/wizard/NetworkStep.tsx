// Step 5 (vSphere only): each network the backed-up NICs were on → a network of the target host.
import { Content, FormGroup, FormSelect, FormSelectOption, Spinner } from '@patternfly/react-core';
import type { RestorePlanVm } from '../../../shared/domain.ts';
import { useHostInventory } from '../../api/queries.ts';
import type { TargetChoice } from '../TargetStep.tsx';
import { hostOffer } from './placement.ts';

export function NetworkStep({
  target,
  plan,
  networkMap,
  onChange,
}: {
  target: TargetChoice;
  plan: RestorePlanVm[];
  networkMap: Record<string, string>;
  onChange(networkMap: Record<string, string>): void;
}) {
  const inventory = useHostInventory(target.host || null);
  if (inventory.isPending) return <Spinner size="md" aria-label={`Reading the networks of ${target.host}`} />;
  const { networks } = hostOffer(inventory.data, target);
  const sources = [...new Set(plan.flatMap((vm) => vm.networks.map((network) => network.source)))];
  if (sources.length === 0) return <Content component="p">The backed-up VMs have no network adapters to map.</Content>;
  const set = (source: string, network: string): void => {
    const { [source]: _dropped, ...rest } = networkMap;
    onChange(network ? { ...rest, [source]: network } : rest);
  };
  return (
    <>
      {sources.map((source, index) => {
        const id = `wizard-network-${index}`;
        return (
          <FormGroup key={source} label={`Network for ${source}`} fieldId={id}>
            <FormSelect id={id} value={networkMap[source] ?? ''} onChange={(_event, value) => set(source, value)}>
              <FormSelectOption
                value=""
                label={target.network ? `Default: ${target.network}` : `Same name (${source}), if the host has it`}
              />
              {networks.map((network) => (
                <FormSelectOption key={network} value={network} label={network} />
              ))}
            </FormSelect>
          </FormGroup>
        );
      })}
    </>
  );
}
