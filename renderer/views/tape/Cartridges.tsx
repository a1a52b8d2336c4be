// The library's cartridges: where each is, its pool and what is written, which jobs want it now,
// with eject (asked first when it holds backups) and import.
import { useState } from 'react';
import { Button, Label } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr } from '@patternfly/react-table';
import type { TapeInventory } from '../../../shared/domain.ts';
import { formatBytes } from '../../../shared/format.ts';
import { useApi, useOpenPrompts } from '../../api/queries.ts';
import { Confirmed } from '../Confirmed.tsx';
import { InlineError } from '../common/InlineError.tsx';

type Cartridge = TapeInventory['cartridges'][number];

function where(cartridge: Cartridge): string {
  return cartridge.location.kind === 'offline' ? 'offline' : `${cartridge.location.kind} ${cartridge.location.index + 1}`;
}

export function Cartridges({ cartridges }: { cartridges: Cartridge[] }) {
  const api = useApi();
  const prompts = useOpenPrompts();
  const [error, setError] = useState<string | null>(null);
  /** How many jobs wait for each tape right now. */
  const wanted = new Map(
    (prompts.data ?? []).filter((prompt) => prompt.barcode).map((prompt) => [prompt.barcode as string, prompt.jobIds.length]),
  );
  const act = (channel: 'tape.import' | 'tape.eject', barcode: string): void => {
    api.invoke(channel, { barcode }).then(
      () => setError(null),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <>
      <Table role="table" aria-label="Cartridges" variant="compact">
        <Thead>
          <Tr>
            <Th>Barcode</Th>
            <Th>Where</Th>
            <Th>Pool</Th>
            <Th>Written</Th>
            <Th>Capacity</Th>
            <Th screenReaderText="Actions" />
          </Tr>
        </Thead>
        <Tbody>
          {cartridges.map((cartridge) => (
            <Tr key={cartridge.barcode} data-barcode={cartridge.barcode}>
              <Td dataLabel="Barcode">
                {cartridge.barcode}
                {cartridge.writeProtected && ' (protected)'}{' '}
                {wanted.has(cartridge.barcode) && (
                  <Label color="orange" isCompact>
                    wanted now by {wanted.get(cartridge.barcode)} job(s)
                  </Label>
                )}
              </Td>
              <Td dataLabel="Where">
                {cartridge.location.kind === 'offline' ? (
                  <Label color="grey" isCompact>
                    offline
                  </Label>
                ) : (
                  where(cartridge)
                )}
              </Td>
              <Td dataLabel="Pool">{cartridge.pool ?? 'free'}</Td>
              <Td dataLabel="Written">{cartridge.bytes === null ? '—' : formatBytes(cartridge.bytes)}</Td>
              <Td dataLabel="Capacity">{cartridge.capacityBytes === 0 ? 'unknown' : formatBytes(cartridge.capacityBytes)}</Td>
              <Td isActionCell>
                {cartridge.location.kind === 'slot' &&
                  (cartridge.pool ? (
                    <Confirmed
                      label={`Eject ${cartridge.barcode}`}
                      question={`Eject ${cartridge.barcode}? It holds backups of pool ${cartridge.pool}; restores will ask for it back.`}
                      confirmLabel="Yes, eject it"
                      onConfirm={() => act('tape.eject', cartridge.barcode)}
                    />
                  ) : (
                    <Button variant="secondary" size="sm" onClick={() => act('tape.eject', cartridge.barcode)}>
                      Eject {cartridge.barcode}
                    </Button>
                  ))}
                {cartridge.location.kind === 'offline' && (
                  <Button variant="secondary" size="sm" onClick={() => act('tape.import', cartridge.barcode)}>
                    Import {cartridge.barcode}
                  </Button>
                )}
              </Td>
            </Tr>
          ))}
        </Tbody>
      </Table>
      <InlineError error={error} />
    </>
  );
}
