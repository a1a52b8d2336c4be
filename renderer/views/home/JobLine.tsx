// One job in a Home list: what it is, what the card says of it, and a button that opens it.
import { Button, DataListCell, DataListItem, DataListItemCells, DataListItemRow, Stack } from '@patternfly/react-core';
import type { ReactNode } from 'react';
import type { Job } from '../../../shared/domain.ts';
import { useConsole } from '../../store.ts';
import { kindName } from '../common/kind-names.ts';

export function JobLine({ job, before, after, children }: { job: Job; before?: ReactNode; after?: ReactNode; children?: ReactNode }) {
  const openJob = useConsole((state) => state.openJob);
  const nameId = `home-job-${job.id}`;
  return (
    <DataListItem aria-labelledby={nameId}>
      <DataListItemRow>
        <DataListItemCells
          dataListCells={[
            <DataListCell key="job">
              <Stack hasGutter>
                <span>
                  {before}
                  <strong id={nameId}>
                    {kindName(job.kind)}: {job.vmName}
                  </strong>
                  {after}
                </span>
                {children}
                <span>
                  <Button variant="secondary" size="sm" onClick={() => openJob(job.id)}>
                    Open job {job.vmName}
                  </Button>
                </span>
              </Stack>
            </DataListCell>,
          ]}
        />
      </DataListItemRow>
    </DataListItem>
  );
}
