// The tape library: its drives and what they hold, tapes in the library and offline, and the
// mail slots (where the operator puts a tape that is asked for).
import { DescriptionList, DescriptionListDescription, DescriptionListGroup, DescriptionListTerm } from '@patternfly/react-core';
import { useTapeInventory } from '../../api/queries.ts';
import { HomeCard, Nothing } from './HomeCard.tsx';

export function TapeLibrary() {
  const inventory = useTapeInventory();
  const library = inventory.data;
  const offline = library?.cartridges.filter((tape) => tape.location.kind === 'offline').length ?? 0;
  const freeMailslots = library?.mailslots.filter((slot) => slot === null).length ?? 0;
  return (
    <HomeCard title="Tape library" view="tape" goTo="Go to the tape library">
      {inventory.isPending ? (
        <Nothing>Loading the tape library…</Nothing>
      ) : !library ? (
        <Nothing>{inventory.error?.message ?? 'No tape library.'}</Nothing>
      ) : (
        <DescriptionList isCompact isHorizontal>
          <DescriptionListGroup>
            <DescriptionListTerm>Library</DescriptionListTerm>
            <DescriptionListDescription>{library.name}</DescriptionListDescription>
          </DescriptionListGroup>
          {library.drives.map((drive) => (
            <DescriptionListGroup key={drive.index}>
              <DescriptionListTerm>Drive {drive.index + 1}</DescriptionListTerm>
              <DescriptionListDescription>
                {drive.barcode ? `${drive.barcode}${drive.owner ? `, in use by ${drive.owner}` : ', idle'}` : 'empty'}
              </DescriptionListDescription>
            </DescriptionListGroup>
          ))}
          <DescriptionListGroup>
            <DescriptionListTerm>Tapes</DescriptionListTerm>
            <DescriptionListDescription>
              {library.cartridges.length - offline} in the library, {offline} offline
            </DescriptionListDescription>
          </DescriptionListGroup>
          <DescriptionListGroup>
            <DescriptionListTerm>Mail slots</DescriptionListTerm>
            <DescriptionListDescription>
              {freeMailslots} of {library.mailslots.length} free
            </DescriptionListDescription>
          </DescriptionListGroup>
        </DescriptionList>
      )}
    </HomeCard>
  );
}
