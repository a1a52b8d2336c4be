// The library's places, each a compact table: drives (with the job using each), mail slots, slots.
import { Card, CardBody, CardTitle, Gallery, Label, Title } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { TapeInventory } from '../../../shared/domain.ts';

function Tape({ barcode }: { barcode: string | null }) {
  return barcode ? (
    <Label color="blue" isCompact>
      {barcode}
    </Label>
  ) : (
    <>empty</>
  );
}

function Places({
  title,
  rows,
  owner,
}: {
  title: string;
  rows: { place: string; barcode: string | null; owner?: string | null }[];
  owner?: boolean;
}) {
  return (
    <Card isCompact component="section" aria-label={title}>
      <CardTitle>
        <Title headingLevel="h3">{title}</Title>
      </CardTitle>
      <CardBody>
        <Table role="table" aria-label={title} variant="compact" borders={false}>
          <Thead>
            <Tr>
              <Th>Place</Th>
              <Th>Tape</Th>
              {owner && <Th>Used by</Th>}
            </Tr>
          </Thead>
          <Tbody>
            {rows.map((row) => (
              <Tr key={row.place}>
                <Td dataLabel="Place">{row.place}</Td>
                <Td dataLabel="Tape">
                  <Tape barcode={row.barcode} />
                </Td>
                {owner && <Td dataLabel="Used by">{row.owner ?? '—'}</Td>}
              </Tr>
            ))}
          </Tbody>
        </Table>
      </CardBody>
    </Card>
  );
}

export function Bays({ inventory }: { inventory: TapeInventory }) {
  return (
    <Gallery hasGutter minWidths={{ default: '16rem' }}>
      <Places
        title="Drives"
        owner
        rows={inventory.drives.map((drive) => ({ place: `Drive ${drive.index + 1}`, barcode: drive.barcode, owner: drive.owner }))}
      />
      <Places title="Mail slots" rows={inventory.mailslots.map((barcode, index) => ({ place: `Mail slot ${index + 1}`, barcode }))} />
      <Places title="Slots" rows={inventory.slots.map((barcode, index) => ({ place: `Slot ${index + 1}`, barcode }))} />
    </Gallery>
  );
}
