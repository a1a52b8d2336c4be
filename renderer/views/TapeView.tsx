// Tape: the library (its source, drives, mail slots and slots, its cartridges with eject and
// import), and a restore from tape that shows the pull list before it starts.
import { Content, EmptyState, EmptyStateBody, Stack } from '@patternfly/react-core';
import type { TapeInventory } from '../../shared/domain.ts';
import { formatBytes } from '../../shared/format.ts';
import { useTapeInventory } from '../api/queries.ts';
import { Bays } from './tape/Bays.tsx';
import { Cartridges } from './tape/Cartridges.tsx';
import { LibrarySource } from './tape/LibrarySource.tsx';
import { RestoreFromTape } from './tape/RestoreFromTape.tsx';
import { SectionCard } from './common/SectionCard.tsx';

function Library({ inventory }: { inventory: TapeInventory }) {
  // A real drive's rate is not known to Lifeboat: the modelled one only sizes the pull list's estimates.
  const speed = `${formatBytes(inventory.model.bytesPerSecond)}/s`;
  const rate = inventory.source.kind === 'virtual' ? `at ${speed}` : `(estimates assume ${speed})`;
  return (
    <SectionCard id="library-heading" title={<>{inventory.name}</>}>
      <Stack hasGutter>
        <Content component="p">
          {inventory.drives.length} drive(s) {inventory.model.name} {rate} · {inventory.slots.length} slots · {inventory.mailslots.length}{' '}
          mail slot(s)
          {inventory.timeScale !== 1 && <> · mechanical time ×{inventory.timeScale}</>}
        </Content>
        <LibrarySource source={inventory.source} />
        <Bays inventory={inventory} />
        <Cartridges cartridges={inventory.cartridges} />
      </Stack>
    </SectionCard>
  );
}

export function TapeView() {
  const inventory = useTapeInventory();
  return (
    <Stack hasGutter>
      {inventory.isPending && <p role="status">Loading the tape library…</p>}
      {inventory.isError && (
        // A configured real library that does not answer is not "no library": the message names its address.
        <EmptyState
          headingLevel="h2"
          titleText={
            'code' in inventory.error && inventory.error.code !== 'not-found' ? 'The tape library is unavailable' : 'No tape library'
          }
        >
          <EmptyStateBody>{inventory.error.message}</EmptyStateBody>
        </EmptyState>
      )}
      {inventory.data && <Library inventory={inventory.data} />}
      <RestoreFromTape />
    </Stack>
  );
}
