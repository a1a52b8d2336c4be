// Inventory: the VMs the catalog knows (marked when their only copy is offline) and, for the
// selected one, its restore points; below, the VMs of the vSphere hosts, to back up from there.
import { useState } from 'react';
import { EmptyState, EmptyStateBody, Grid, GridItem, Stack, StackItem, Title } from '@patternfly/react-core';
import type { VmSummary } from '../../shared/domain.ts';
import { useVms } from '../api/queries.ts';
import { InlineError } from './common/InlineError.tsx';
import { HostVms } from './HostVms.tsx';
import { PointList } from './inventory/PointList.tsx';
import { VmTable } from './inventory/VmTable.tsx';

/** No backups yet: say how to get some. The demo lab is made by the CLI (`lifeboat lab create`), a
 * client of the engine like this console; it needs Linux disk tools the console cannot assume. */
function EmptyInventory() {
  return (
    <EmptyState titleText="No backups yet" headingLevel="h2">
      <EmptyStateBody>
        Back up a VM folder with <code>lifeboat backup local:&lt;folder&gt;</code>, a VM of a vSphere host below (or{' '}
        <code>lifeboat backup vsphere:&lt;host&gt;/&lt;vm&gt;</code>), or try Lifeboat on a demo lab: <code>lifeboat lab create</code> makes
        three small VMs with real file systems, backed up three times each.
      </EmptyStateBody>
    </EmptyState>
  );
}

function CatalogVms({ vms }: { vms: VmSummary[] }) {
  const [selected, setSelected] = useState<string | null>(null);
  const chosen = vms.find((vm) => vm.id === selected);
  return (
    <Grid hasGutter>
      <GridItem span={12} xl={chosen ? 7 : 12}>
        <section aria-labelledby="vms-heading">
          <Title headingLevel="h2" id="vms-heading">
            Virtual machines
          </Title>
          <VmTable vms={vms} selected={selected} onSelect={setSelected} />
        </section>
      </GridItem>
      {chosen && (
        <GridItem span={12} xl={5}>
          <PointList vmId={chosen.id} vmName={chosen.name} />
        </GridItem>
      )}
    </Grid>
  );
}

export function Inventory() {
  const vms = useVms();
  return (
    <Stack hasGutter>
      <StackItem>
        {vms.isPending && <p role="status">Loading VMs…</p>}
        <InlineError error={vms.isError ? `Could not load VMs: ${vms.error.message}` : null} />
        {vms.data && (vms.data.length === 0 ? <EmptyInventory /> : <CatalogVms vms={vms.data} />)}
      </StackItem>
      <StackItem>
        <HostVms />
      </StackItem>
    </Stack>
  );
}
