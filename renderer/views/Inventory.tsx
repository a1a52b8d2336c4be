// Inventory: the VMs the catalog knows and, for the selected one, its restore points; below, the
// VMs of the vSphere hosts, to back up from there.
import { useState } from 'react';
import type { VmSummary } from '../../shared/domain.ts';
import { formatBytes } from '../../shared/format.ts';
import { usePoints, useVms } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { formatTime } from './time.ts';
import { HealthBadge } from './HealthBadge.tsx';
import { HostVms } from './HostVms.tsx';
import { TierBadges } from './TierBadges.tsx';

/** No backups yet: say how to get some. The demo lab is made by the CLI (`lab create`), a
 * client of the engine like this console; it needs Linux disk tools the console cannot assume. */
function EmptyInventory() {
  return (
    <section className="empty">
      <h2>No backups yet</h2>
      <p>
        Back up a VM folder with <code>lifeboat backup local:&lt;folder&gt;</code>, a VM of a vSphere host below (or{' '}
        <code>lifeboat backup vsphere:&lt;host&gt;/&lt;vm&gt;</code>), or try Lifeboat on a demo lab: <code>lifeboat lab create</code> makes
        three small VMs with real file systems, backed up three times each.
      </p>
    </section>
  );
}

export function Inventory() {
  const vms = useVms();
  if (vms.isPending) return <p role="status">Loading VMs…</p>;
  if (vms.isError) return <p role="alert">Could not load VMs: {vms.error.message}</p>;
  return (
    <>
      {vms.data.length === 0 ? <EmptyInventory /> : <CatalogVms vms={vms.data} />}
      <HostVms />
    </>
  );
}

function CatalogVms({ vms }: { vms: VmSummary[] }) {
  const [selected, setSelected] = useState<string | null>(null);
  const points = usePoints(selected);
  const show = useConsole((state) => state.show);
  return (
    <div className="split">
      <section aria-labelledby="vms-heading">
        <h2 id="vms-heading">Virtual machines</h2>
        <table className="grid">
          <thead>
            <tr>
              <th>Name</th>
              <th>Points</th>
              <th>Disks</th>
              <th>Size</th>
              <th>Latest point</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {vms.map((vm) => (
              <tr key={vm.id} aria-selected={vm.id === selected} className={vm.id === selected ? 'selected' : ''}>
                <td>
                  <button className="link" onClick={() => setSelected(vm.id)}>
                    {vm.name}
                  </button>
                </td>
                <td>{vm.pointCount}</td>
                <td>{vm.diskCount}</td>
                <td>{formatBytes(vm.provisionedBytes)}</td>
                <td>{vm.latestPointAt ? formatTime(vm.latestPointAt) : '—'}</td>
                <td>
                  <button onClick={() => show('restore', vm.id)}>Restore…</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {selected && (
        <section aria-labelledby="points-heading">
          <h2 id="points-heading">Restore points</h2>
          {points.isPending ? (
            <p role="status">Loading…</p>
          ) : points.isError ? (
            <p role="alert">{points.error.message}</p>
          ) : (
            <ol className="points">
              {points.data.map((point) => (
                <li key={point.id}>
                  <strong>#{point.sequence}</strong> {point.kind} · {formatTime(point.createdAt)} · {formatBytes(point.changedBytes)}{' '}
                  changed, {formatBytes(point.storedBytes)} stored
                  <TierBadges copies={point.copies} keyId={point.keyId} />
                  <HealthBadge health={point.health} />
                </li>
              ))}
            </ol>
          )}
        </section>
      )}
    </div>
  );
}
