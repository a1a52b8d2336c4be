// The tapes a restore reads, in the order it reads them, with where each is now.
import { Label } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { PullListEntry } from '../../../shared/domain.ts';
import { formatBytes, formatSeconds } from '../../../shared/format.ts';

export function PullList({ entries }: { entries: PullListEntry[] }) {
  return (
    <Table role="table" variant="compact">
      <caption>Pull list: tapes in the order they are read</caption>
      <Thead>
        <Tr>
          <Th>Order</Th>
          <Th>Barcode</Th>
          <Th>Where</Th>
          <Th>Bytes</Th>
          <Th>Estimated</Th>
          <Th>For</Th>
        </Tr>
      </Thead>
      <Tbody>
        {entries.map((entry) => (
          <Tr key={entry.barcode} data-barcode={entry.barcode}>
            <Td dataLabel="Order">{entry.order}</Td>
            <Td dataLabel="Barcode">{entry.barcode}</Td>
            <Td dataLabel="Where">
              {entry.online ? (
                entry.location
              ) : (
                <>
                  <Label color="orange" isCompact>
                    needs you
                  </Label>{' '}
                  {entry.location}: you will be asked to insert it
                </>
              )}
            </Td>
            <Td dataLabel="Bytes">{formatBytes(entry.bytes)}</Td>
            <Td dataLabel="Estimated">{formatSeconds(entry.estimatedSeconds)}</Td>
            <Td dataLabel="For">{entry.vms.join(', ')}</Td>
          </Tr>
        ))}
      </Tbody>
    </Table>
  );
}
