// The catalog's VMs as a sortable, filterable table (TanStack Table for the rows, PatternFly for
// what shows): a name filter, "only copy offline" as a filter too, and per VM its points and
// Restore, which opens the wizard with that VM.
import { useMemo, useState } from 'react';
import { Button, Checkbox, SearchInput, Toolbar, ToolbarContent, ToolbarItem } from '@patternfly/react-core';
import { Table, Tbody, Td, Th, Thead, Tr, type ThProps } from '@patternfly/react-table';
import {
  columnFilteringFeature,
  createColumnHelper,
  createFilteredRowModel,
  createSortedRowModel,
  filterFn_includesString,
  globalFilteringFeature,
  rowSortingFeature,
  sortFn_alphanumeric,
  sortFn_basic,
  tableFeatures,
  useTable,
  type SortingState,
} from '@tanstack/react-table';
import type { VmSummary } from '../../../shared/domain.ts';
import { formatBytes } from '../../../shared/format.ts';
import { useConsole } from '../../store.ts';
import { formatTime } from '../time.ts';
import { OfflineMark } from './OfflineMark.tsx';

const features = tableFeatures({
  columnFilteringFeature,
  rowSortingFeature,
  globalFilteringFeature,
  sortedRowModel: createSortedRowModel(),
  filteredRowModel: createFilteredRowModel(),
  sortFns: { alphanumeric: sortFn_alphanumeric, basic: sortFn_basic },
  filterFns: { includesString: filterFn_includesString },
});

const column = createColumnHelper<typeof features, VmSummary>();

function copiesInWords(vm: VmSummary): string {
  const { online, offline } = vm.copies;
  if (online + offline === 0) return 'none readable';
  return [online > 0 ? `${online} online` : null, offline > 0 ? `${offline} offline` : null].filter(Boolean).join(' · ');
}

const columns = column.columns([
  column.accessor('name', { header: 'Name', sortFn: 'alphanumeric', enableGlobalFilter: true }),
  column.accessor('pointCount', { header: 'Points', sortFn: 'basic', enableGlobalFilter: false }),
  column.accessor('diskCount', { header: 'Disks', sortFn: 'basic', enableGlobalFilter: false }),
  column.accessor('provisionedBytes', { header: 'Size', sortFn: 'basic', enableGlobalFilter: false }),
  column.accessor((vm) => vm.latestPointAt ?? '', {
    id: 'latestPointAt',
    header: 'Latest point',
    sortFn: 'basic',
    enableGlobalFilter: false,
  }),
  // Fewest online places first when ascending: the VMs at risk come to the top.
  column.accessor((vm) => vm.copies.online, { id: 'copies', header: 'Copies', sortFn: 'basic', enableGlobalFilter: false }),
]);

export function VmTable({ vms, selected, onSelect }: { vms: VmSummary[]; selected: string | null; onSelect(vmId: string): void }) {
  const show = useConsole((state) => state.show);
  const [sorting, setSorting] = useState<SortingState>([]);
  const [filter, setFilter] = useState('');
  const [offlineOnly, setOfflineOnly] = useState(false);
  const offline = vms.filter((vm) => vm.onlyOffline).length;
  const data = useMemo(() => (offlineOnly ? vms.filter((vm) => vm.onlyOffline) : vms), [vms, offlineOnly]);
  const table = useTable({
    features,
    columns,
    data,
    getRowId: (vm) => vm.id,
    globalFilterFn: 'includesString',
    state: { sorting, globalFilter: filter },
    onSortingChange: setSorting,
    onGlobalFilterChange: (next: unknown) => setFilter(typeof next === 'function' ? '' : String(next ?? '')),
  });
  const sortOf = (id: string, columnIndex: number): ThProps['sort'] => {
    const current = sorting[0];
    return {
      columnIndex,
      sortBy: current?.id === id ? { index: columnIndex, direction: current.desc ? 'desc' : 'asc' } : {},
      onSort: (_event, _index, direction) => setSorting([{ id, desc: direction === 'desc' }]),
    };
  };
  const rows = table.getRowModel().rows;
  return (
    <>
      <Toolbar>
        <ToolbarContent>
          <ToolbarItem>
            <SearchInput
              aria-label="Find a VM by name"
              placeholder="Find a VM by name"
              value={filter}
              onChange={(_event, value) => setFilter(value)}
              onClear={() => setFilter('')}
            />
          </ToolbarItem>
          <ToolbarItem alignSelf="center">
            <Checkbox
              id="inventory-offline-only"
              label={`Only VMs whose only copy is offline (${offline})`}
              isChecked={offlineOnly}
              onChange={(_event, checked) => setOfflineOnly(checked)}
            />
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      <Table role="table" aria-label="Virtual machines in the catalog" variant="compact">
        <Thead>
          <Tr>
            {table.getHeaderGroups()[0]?.headers.map((header, index) => (
              <Th key={header.id} sort={sortOf(header.column.id, index)}>
                {String(header.column.columnDef.header)}
              </Th>
            ))}
            <Th screenReaderText="Actions" />
          </Tr>
        </Thead>
        <Tbody>
          {rows.map(({ original: vm }) => (
            <Tr key={vm.id} isRowSelected={vm.id === selected} data-vm={vm.name} data-only-offline={vm.onlyOffline}>
              <Td dataLabel="Name">
                <Button variant="link" isInline onClick={() => onSelect(vm.id)} aria-label={`Points of ${vm.name}`}>
                  {vm.name}
                </Button>
              </Td>
              <Td dataLabel="Points">{vm.pointCount}</Td>
              <Td dataLabel="Disks">{vm.diskCount}</Td>
              <Td dataLabel="Size">{formatBytes(vm.provisionedBytes)}</Td>
              <Td dataLabel="Latest point">{vm.latestPointAt ? formatTime(vm.latestPointAt) : '—'}</Td>
              <Td dataLabel="Copies">
                {copiesInWords(vm)} <OfflineMark vm={vm} />
              </Td>
              <Td isActionCell>
                <Button variant="secondary" size="sm" onClick={() => show('restore', vm.id)} aria-label={`Restore ${vm.name}…`}>
                  Restore…
                </Button>
              </Td>
            </Tr>
          ))}
        </Tbody>
      </Table>
      {rows.length === 0 && <p className="pf-v6-u-p-md">No VM matches.</p>}
    </>
  );
}
