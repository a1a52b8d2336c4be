// Step 8: what Start will do, per VM as the engine's checks planned it (bytes, estimated time,
// the copy read, what is replaced) with the totals, and the choices that apply to every VM.
import { DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { RestorePlanVm } from '../../../shared/domain.ts';
import { formatBytes, formatSeconds } from '../../../shared/format.ts';
import { describeTarget } from '../TargetStep.tsx';
import { formatTime } from '../time.ts';
import type { WizardAnswers } from './answers.ts';
import { placesOnVsphere } from './steps.ts';

const estimate = (seconds: number | null): string => (seconds === null ? 'unknown' : formatSeconds(seconds));

export function SummaryStep({ answers, plan }: { answers: WizardAnswers; plan: RestorePlanVm[] }) {
  const snapshots = answers.vms.filter((choice) => choice.snapshot !== null);
  const totalBytes = plan.reduce((sum, vm) => sum + vm.bytes, 0);
  const known = plan.every((vm) => vm.estimateSeconds !== null);
  return (
    <>
      <DescriptionList isCompact isHorizontal aria-label="Restore choices">
        <DescriptionListGroup>
          <DescriptionListTerm>Target</DescriptionListTerm>
          <DescriptionListDescription>{describeTarget(answers.target)}</DescriptionListDescription>
        </DescriptionListGroup>
        {snapshots.length > 0 && (
          <DescriptionListGroup>
            <DescriptionListTerm>Storage snapshots</DescriptionListTerm>
            <DescriptionListDescription>
              {snapshots.map((choice) => `storage snapshot ${choice.snapshot}`).join(', ')}, read through a clone
            </DescriptionListDescription>
          </DescriptionListGroup>
        )}
        {placesOnVsphere(answers) && (
          <DescriptionListGroup>
            <DescriptionListTerm>Identity</DescriptionListTerm>
            <DescriptionListDescription>
              {answers.identity === 'new' ? 'new BIOS UUID and MAC addresses' : 'as in the backup'}
            </DescriptionListDescription>
          </DescriptionListGroup>
        )}
        {placesOnVsphere(answers) && (
          <DescriptionListGroup>
            <DescriptionListTerm>Power on</DescriptionListTerm>
            <DescriptionListDescription>{answers.powerOn ? 'yes, after the restore' : 'no'}</DescriptionListDescription>
          </DescriptionListGroup>
        )}
        <DescriptionListGroup>
          <DescriptionListTerm>Reason</DescriptionListTerm>
          <DescriptionListDescription>{answers.reason.trim() || 'none given'}</DescriptionListDescription>
        </DescriptionListGroup>
      </DescriptionList>
      <Table aria-label="What the restore does, per VM" variant="compact" role="table">
        <Thead>
          <Tr>
            <Th>VM</Th>
            <Th>Restored as</Th>
            <Th>Point</Th>
            <Th>To restore</Th>
            <Th>Estimated time</Th>
            <Th>Copy read</Th>
            <Th>Replaces</Th>
          </Tr>
        </Thead>
        <Tbody>
          {plan.map((vm) => (
            <Tr key={vm.vm}>
              <Td dataLabel="VM">{vm.vmName}</Td>
              <Td dataLabel="Restored as">{vm.name}</Td>
              <Td dataLabel="Point">{vm.pointCreatedAt ? formatTime(vm.pointCreatedAt) : vm.point}</Td>
              <Td dataLabel="To restore">{formatBytes(vm.bytes)}</Td>
              <Td dataLabel="Estimated time">{estimate(vm.estimateSeconds)}</Td>
              <Td dataLabel="Copy read">{vm.copy || 'the fastest whole copy'}</Td>
              <Td dataLabel="Replaces">{vm.replaces.length ? vm.replaces.join('; ') : 'nothing'}</Td>
            </Tr>
          ))}
        </Tbody>
        <Tbody>
          <Tr>
            <Th scope="row">Total: {plan.length} VM(s)</Th>
            <Td />
            <Td />
            <Td dataLabel="To restore">{formatBytes(totalBytes)}</Td>
            <Td dataLabel="Estimated time">
              {known ? formatSeconds(plan.reduce((sum, vm) => sum + (vm.estimateSeconds ?? 0), 0)) : 'unknown'}
            </Td>
            <Td />
            <Td />
          </Tr>
        </Tbody>
      </Table>
    </>
  );
}
