// Step 1: the VMs to restore (a filterable table with checkboxes) and, per picked VM, its point:
// its storage snapshots first (the fastest tier), then the backup's points with their copies.
import { useState } from 'react';
import { Checkbox, FormSelect, FormSelectOption, SearchInput, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { VmSummary } from '../../../shared/domain.ts';
import { formatBytes } from '../../../shared/format.ts';
import { usePoints, useStorageSnapshots, useVms } from '../../api/queries.ts';
import { formatTime } from '../time.ts';
import { TierBadges } from '../TierBadges.tsx';
import { HealthBadge } from '../HealthBadge.tsx';
import type { WizardVmChoice } from './answers.ts';

/** The point select's value: '' is the latest point, `point:ID` a backup point, `snapshot:ID` a storage snapshot. */
const valueOf = (choice: WizardVmChoice): string =>
  choice.snapshot ? `snapshot:${choice.snapshot}` : choice.point ? `point:${choice.point}` : '';

function PointSelect({ vm, choice, onChange }: { vm: VmSummary; choice: WizardVmChoice; onChange(choice: WizardVmChoice): void }) {
  const points = usePoints(vm.id);
  const snapshots = useStorageSnapshots();
  const snapshotTier = (snapshots.data ?? []).filter((snapshot) =>
    snapshot.vms.some((found) => found.name.toLowerCase() === vm.name.toLowerCase()),
  );
  const latest = points.data?.[0];
  const chosen = choice.snapshot ? undefined : (points.data?.find((point) => point.id === choice.point) ?? latest);
  const pick = (value: string): void => {
    const [kind, id] = value.split(':');
    onChange({ ...choice, point: kind === 'point' ? (id ?? null) : null, snapshot: kind === 'snapshot' ? (id ?? null) : null });
  };
  return (
    <>
      <FormSelect value={valueOf(choice)} onChange={(_event, value) => pick(value)} aria-label={`Restore point of ${vm.name}`}>
        <FormSelectOption
          value=""
          label={latest ? `Latest: #${latest.sequence} ${latest.kind} · ${formatTime(latest.createdAt)}` : 'Latest'}
        />
        {snapshotTier.map((snapshot) => (
          <FormSelectOption
            key={snapshot.id}
            value={`snapshot:${snapshot.id}`}
            label={`Storage snapshot ${snapshot.id} (${snapshot.array}/${snapshot.volume}) · ${formatTime(snapshot.createdAt)} — snapshot tier, fastest: restored from a clone`}
          />
        ))}
        {points.data?.map((point) => (
          <FormSelectOption
            key={point.id}
            value={`point:${point.id}`}
            label={`#${point.sequence} ${point.kind} · ${formatTime(point.createdAt)} — backup`}
          />
        ))}
      </FormSelect>
      {chosen && (
        <>
          <TierBadges copies={chosen.copies} keyId={chosen.keyId} />
          <HealthBadge health={chosen.health} />
        </>
      )}
    </>
  );
}

export function VmsStep({ choices, onChange }: { choices: WizardVmChoice[]; onChange(choices: WizardVmChoice[]): void }) {
  const vms = useVms();
  const [filter, setFilter] = useState('');
  const shown = (vms.data ?? []).filter((vm) => vm.name.toLowerCase().includes(filter.trim().toLowerCase()));
  const choiceOf = (vm: VmSummary): WizardVmChoice | undefined => choices.find((choice) => choice.vm === vm.id);
  const toggle = (vm: VmSummary, picked: boolean): void =>
    onChange(
      picked ? [...choices, { vm: vm.id, point: null, snapshot: null, newName: '' }] : choices.filter((choice) => choice.vm !== vm.id),
    );
  const replace = (next: WizardVmChoice): void => onChange(choices.map((choice) => (choice.vm === next.vm ? next : choice)));
  return (
    <>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <SearchInput
              aria-label="Filter VMs by name"
              placeholder="Filter by name"
              value={filter}
              onChange={(_event, value) => setFilter(value)}
              onClear={() => setFilter('')}
            />
          </ToolbarItem>
          <ToolbarItem>{choices.length} VM(s) picked</ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <Table aria-label="VMs to restore" variant="compact">
        <Thead>
          <Tr>
            <Th>VM</Th>
            <Th>Points</Th>
            <Th>Size</Th>
            <Th>Restore point</Th>
          </Tr>
        </Thead>
        <Tbody>
          {shown.map((vm) => {
            const choice = choiceOf(vm);
            return (
              <Tr key={vm.id}>
                <Td dataLabel="VM">
                  <Checkbox
                    id={`wizard-vm-${vm.id}`}
                    label={vm.name}
                    isChecked={choice !== undefined}
                    onChange={(_event, picked) => toggle(vm, picked)}
                  />
                </Td>
                <Td dataLabel="Points">{vm.pointCount}</Td>
                <Td dataLabel="Size">{formatBytes(vm.provisionedBytes)}</Td>
                <Td dataLabel="Restore point">{choice && <PointSelect vm={vm} choice={choice} onChange={replace} />}</Td>
              </Tr>
            );
          })}
        </Tbody>
      </Table>
    </>
  );
}
