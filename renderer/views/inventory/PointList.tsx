// The selected VM's restore points, newest first: size, where each is kept and its health.
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import { formatBytes } from '../../../shared/format.ts';
import { usePoints } from '../../api/queries.ts';
import { InlineError } from '../common/InlineError.tsx';
import { HealthBadge } from '../HealthBadge.tsx';
import { TierBadges } from '../TierBadges.tsx';
import { formatTime } from '../time.ts';
import { SectionCard } from '../common/SectionCard.tsx';

export function PointList({ vmId, vmName }: { vmId: string; vmName: string }) {
  const points = usePoints(vmId);
  return (
    <SectionCard id="points-heading" title="Restore points" isCompact>
      {points.isPending && <p role="status">Loading…</p>}
      <InlineError error={points.isError ? points.error.message : null} />
      {points.data && (
        <Table role="table" aria-label={`Restore points of ${vmName}`} variant="compact">
          <Thead>
            <Tr>
              <Th>Point</Th>
              <Th>Made</Th>
              <Th>Changed</Th>
              <Th>Stored</Th>
              <Th>Kept in</Th>
            </Tr>
          </Thead>
          <Tbody>
            {points.data.map((point) => (
              <Tr key={point.id}>
                <Td dataLabel="Point">
                  #{point.sequence} {point.kind}
                </Td>
                <Td dataLabel="Made">{formatTime(point.createdAt)}</Td>
                <Td dataLabel="Changed">{formatBytes(point.changedBytes)}</Td>
                <Td dataLabel="Stored">{formatBytes(point.storedBytes)}</Td>
                <Td dataLabel="Kept in">
                  <TierBadges copies={point.copies} keyId={point.keyId} />
                  <HealthBadge health={point.health} />
                </Td>
              </Tr>
            ))}
          </Tbody>
        </Table>
      )}
    </SectionCard>
  );
}
