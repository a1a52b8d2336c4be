// The job list's model in TanStack Table: a filter by state, by kind and by text (the VM's name),
// and the chosen order. The list draws the rows itself (two lines each, virtualized).
import {
  columnFilteringFeature,
  createColumnHelper,
  createFilteredRowModel,
  createSortedRowModel,
  filterFn_equals,
  filterFn_includesString,
  rowSortingFeature,
  sortFn_alphanumeric,
  sortFn_basic,
  tableFeatures,
  useTable,
  type ColumnFiltersState,
  type SortingState,
} from '@tanstack/react-table';
import { useMemo } from 'react';
import { finishedJobStates, type Job } from '../../../shared/domain.ts';

/** 'active': not ended yet. */
export type StateFilter = 'all' | 'active' | Job['state'];
export type JobOrder = 'newest' | 'oldest' | 'vm' | 'queue';

const features = tableFeatures({
  columnFilteringFeature,
  rowSortingFeature,
  filteredRowModel: createFilteredRowModel(),
  sortedRowModel: createSortedRowModel(),
  filterFns: { equals: filterFn_equals, includesString: filterFn_includesString },
  sortFns: { alphanumeric: sortFn_alphanumeric, basic: sortFn_basic },
});
const helper = createColumnHelper<typeof features, Job>();
const columns = helper.columns([
  helper.accessor('state', {
    id: 'state',
    filterFn: (row, _column, wanted: StateFilter) =>
      wanted === 'active' ? !finishedJobStates.has(row.original.state) : row.original.state === wanted,
  }),
  helper.accessor('kind', { id: 'kind', filterFn: 'equals' }),
  helper.accessor('vmName', { id: 'vm', filterFn: 'includesString', sortFn: 'alphanumeric' }),
  helper.accessor('createdAt', { id: 'created', sortFn: 'basic' }),
  // Queued jobs by their place; the others after them.
  helper.accessor((job) => job.queue?.position ?? Number.MAX_SAFE_INTEGER, { id: 'place', sortFn: 'basic' }),
]);

const orders: Record<JobOrder, SortingState> = {
  newest: [{ id: 'created', desc: true }],
  oldest: [{ id: 'created', desc: false }],
  vm: [{ id: 'vm', desc: false }],
  queue: [{ id: 'place', desc: false }],
};

export function useJobRows(jobs: Job[], filter: { state: StateFilter; kind: string; text: string }, order: JobOrder): Job[] {
  const columnFilters = useMemo<ColumnFiltersState>(
    () => [
      ...(filter.state === 'all' ? [] : [{ id: 'state', value: filter.state }]),
      ...(filter.kind === 'all' ? [] : [{ id: 'kind', value: filter.kind }]),
      ...(filter.text === '' ? [] : [{ id: 'vm', value: filter.text }]),
    ],
    [filter.state, filter.kind, filter.text],
  );
  const table = useTable({
    features,
    columns,
    data: jobs,
    state: { columnFilters, sorting: orders[order] },
    getRowId: (job) => job.id,
  });
  return table.getRowModel().rows.map((row) => row.original);
}
