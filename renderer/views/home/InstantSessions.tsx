// Instant Recovery sessions still open (a VM running from a backup until it is migrated or
// stopped): each an obligation the operator has to finish.
import { DataList, DataListCell, DataListItem, DataListItemCells, DataListItemRow, Label } from '@patternfly/react-core';
import { endedInstantStates } from '../../../shared/domain.ts';
import { useInstantSessions } from '../../api/queries.ts';
import { formatTime } from '../time.ts';
import { HomeCard, Nothing } from './HomeCard.tsx';

export function InstantSessions() {
  const sessions = useInstantSessions();
  const open = sessions.data?.filter((session) => !endedInstantStates.has(session.state)) ?? [];
  return (
    <HomeCard title="Instant Recovery sessions" view="instant" goTo="Go to Instant Recovery">
      {sessions.isPending ? (
        <Nothing>Loading the sessions…</Nothing>
      ) : open.length === 0 ? (
        <Nothing>No VM runs from a backup.</Nothing>
      ) : (
        <DataList aria-label="Instant Recovery sessions" isCompact>
          {open.map((session) => (
            <DataListItem key={session.id} aria-labelledby={`instant-${session.id}`}>
              <DataListItemRow>
                <DataListItemCells
                  dataListCells={[
                    <DataListCell key="name">
                      <strong id={`instant-${session.id}`}>{session.name}</strong> on {session.host}, since {formatTime(session.createdAt)}
                    </DataListCell>,
                    <DataListCell key="state" isFilled={false}>
                      <Label isCompact color={session.state === 'running' ? 'blue' : 'grey'}>
                        {session.state}
                      </Label>
                    </DataListCell>,
                  ]}
                />
              </DataListItemRow>
            </DataListItem>
          ))}
        </DataList>
      )}
    </HomeCard>
  );
}
