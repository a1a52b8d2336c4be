// The job queue: every job in two compact lines in a virtualized list (a thousand stay smooth),
// filtered by state, kind and text and put in the chosen order; jobs picked with their checkboxes
// are cancelled together; a job's detail opens beside the list.
import {
  Checkbox,
  Flex,
  FlexItem,
  FormSelect,
  FormSelectOption,
  SearchInput,
  Title,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState } from 'react';
import { finishedJobStates, JobKind, jobStates } from '../../shared/domain.ts';
import { useJobs } from '../api/queries.ts';
import { useConsole } from '../store.ts';
import { InlineError } from './common/InlineError.tsx';
import { kindName } from './common/kind-names.ts';
import { CancelSelected } from './queue/CancelSelected.tsx';
import { JobDetail } from './queue/JobDetail.tsx';
import { JobRow, ROW_HEIGHT } from './queue/JobRow.tsx';
import { useJobRows, type JobOrder, type StateFilter } from './queue/job-table.ts';

const LIST_HEIGHT = 640;
const stateNames: Record<StateFilter, string> = {
  all: 'All',
  active: 'Not ended',
  queued: 'Queued',
  running: 'Running',
  'waiting-for-operator': 'Needs you',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
  interrupted: 'Interrupted',
};
const orderNames: Record<JobOrder, string> = { newest: 'Newest first', oldest: 'Oldest first', vm: 'VM name', queue: 'Queue position' };

export function JobQueue() {
  const jobs = useJobs();
  const selected = useConsole((state) => state.selectedJob);
  const [state, setState] = useState<StateFilter>('all');
  const [kind, setKind] = useState('all');
  const [text, setText] = useState('');
  const [order, setOrder] = useState<JobOrder>('newest');
  const [picked, setPicked] = useState<ReadonlySet<string>>(new Set());
  const all = useMemo(() => jobs.data ?? [], [jobs.data]);
  const rows = useJobRows(all, { state, kind, text }, order);
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 6,
  });
  // Other filters or another order: the list starts again at its top.
  useEffect(() => {
    if (scroller.current) scroller.current.scrollTop = 0;
  }, [state, kind, text, order]);
  // Only jobs that can still be cancelled stay picked (one that ended meanwhile drops out).
  const pickedJobs = all.filter((job) => picked.has(job.id) && !finishedJobStates.has(job.state));
  const cancellable = rows.filter((job) => !finishedJobStates.has(job.state));
  const allPicked = cancellable.length > 0 && cancellable.every((job) => picked.has(job.id));
  const pick = (jobId: string, on: boolean): void =>
    setPicked((before) => {
      const after = new Set(before);
      if (on) after.add(jobId);
      else after.delete(jobId);
      return after;
    });
  if (jobs.isPending) return <p role="status">Loading jobs…</p>;
  if (jobs.isError) return <InlineError error={`Could not load jobs: ${jobs.error.message}`} />;
  const waiting = all.filter((job) => job.state === 'waiting-for-operator').length;
  return (
    <section aria-labelledby="jobs-heading">
      <Title headingLevel="h2" id="jobs-heading">
        Jobs
      </Title>
      <Toolbar role="search" aria-label="Filter jobs">
        <ToolbarContent>
          <ToolbarItem>
            <Checkbox
              id="pick-all"
              label={`Select all ${cancellable.length} not ended`}
              isChecked={allPicked}
              isDisabled={cancellable.length === 0}
              onChange={(_event, on) => setPicked(on ? new Set(cancellable.map((job) => job.id)) : new Set())}
            />
          </ToolbarItem>
          <ToolbarItem>
            <CancelSelected jobs={pickedJobs} onDone={() => setPicked(new Set())} />
          </ToolbarItem>
          <ToolbarItem>
            <FormSelect id="filter-state" aria-label="State" value={state} onChange={(_event, value) => setState(value as StateFilter)}>
              {(['all', 'active', ...jobStates] as StateFilter[]).map((name) => (
                <FormSelectOption key={name} value={name} label={stateNames[name]} />
              ))}
            </FormSelect>
          </ToolbarItem>
          <ToolbarItem>
            <FormSelect id="filter-kind" aria-label="Kind" value={kind} onChange={(_event, value) => setKind(value)}>
              <FormSelectOption value="all" label="All kinds" />
              {JobKind.options.map((name) => (
                <FormSelectOption key={name} value={name} label={kindName(name)} />
              ))}
            </FormSelect>
          </ToolbarItem>
          <ToolbarItem>
            <SearchInput
              aria-label="VM"
              placeholder="Filter by VM"
              value={text}
              onChange={(_event, value) => setText(value)}
              onClear={() => setText('')}
            />
          </ToolbarItem>
          <ToolbarItem>
            <FormSelect id="job-order" aria-label="Order" value={order} onChange={(_event, value) => setOrder(value as JobOrder)}>
              {(Object.keys(orderNames) as JobOrder[]).map((name) => (
                <FormSelectOption key={name} value={name} label={orderNames[name]} />
              ))}
            </FormSelect>
          </ToolbarItem>
          <ToolbarItem alignSelf="center">
            <span role="status">
              {rows.length} of {all.length} jobs
              {waiting > 0 && (
                <>
                  {' '}
                  · <strong>{waiting} need you</strong>
                </>
              )}
            </span>
          </ToolbarItem>
        </ToolbarContent>
      </Toolbar>
      {all.length === 0 ? (
        <p>No jobs yet.</p>
      ) : (
        <Flex alignItems={{ default: 'alignItemsFlexStart' }} flexWrap={{ default: 'nowrap' }}>
          <FlexItem flex={{ default: 'flex_1' }} style={{ minWidth: 0 }}>
            <div ref={scroller} role="list" aria-label="Job queue" tabIndex={0} style={{ height: LIST_HEIGHT, overflowY: 'auto' }}>
              <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
                {virtualizer.getVirtualItems().map((item) => {
                  const job = rows[item.index];
                  if (!job) return null;
                  return (
                    <div
                      key={job.id}
                      role="listitem"
                      style={{ position: 'absolute', top: item.start, height: ROW_HEIGHT, left: 0, right: 0 }}
                    >
                      <JobRow job={job} selected={job.id === selected} checked={picked.has(job.id)} onCheck={(on) => pick(job.id, on)} />
                    </div>
                  );
                })}
              </div>
            </div>
          </FlexItem>
          {selected && (
            <FlexItem flex={{ default: 'flex_1' }} style={{ minWidth: 0, maxHeight: LIST_HEIGHT, overflowY: 'auto' }}>
              <JobDetail jobId={selected} />
            </FlexItem>
          )}
        </Flex>
      )}
    </section>
  );
}
