// One job in detail beside the list: who asked and when, its steps, what limits it, its
// throughput over its own time window, the tapes it read, its log, and what can be done to it.
import { Button, DescriptionList, Flex, FlexItem, Spinner, Title } from '@patternfly/react-core';
import { useEffect, useRef, useState } from 'react';
import { finishedJobStates, type JobSample } from '../../../shared/domain.ts';
import { formatSeconds } from '../../../shared/format.ts';
import { useJobDetail } from '../../api/queries.ts';
import { useConsole } from '../../store.ts';
import { InlineError } from '../common/InlineError.tsx';
import { kindName } from '../common/kind-names.ts';
import { StateLabel } from '../common/StateLabel.tsx';
import { ThroughputPlot } from '../ThroughputPlot.tsx';
import { formatTime, useNow } from '../time.ts';
import { JobActions } from './JobActions.tsx';
import { CarriedBy, StageBars, TapesRead } from './JobFacts.tsx';
import { placeText } from './queue-place.ts';
import { Fact } from '../common/Fact.tsx';

const LIVE_SAMPLES = 600;

export function JobDetail({ jobId }: { jobId: string }) {
  const detail = useJobDetail(jobId);
  const live = useConsole((state) => state.progress[jobId]);
  const selectJob = useConsole((state) => state.selectJob);
  // Live samples since the panel opened, added to the recorded ones for the plot.
  const liveSamples = useRef<JobSample[]>([]);
  const [, redraw] = useState(0);
  useEffect(() => {
    liveSamples.current = [];
  }, [jobId]);
  useEffect(() => {
    if (!live) return;
    liveSamples.current = [...liveSamples.current, { at: live.at, bytesDone: live.bytesDone }].slice(-LIVE_SAMPLES);
    redraw((count) => count + 1);
  }, [live]);
  const shown = detail.data?.job;
  const now = useNow(shown !== undefined && !finishedJobStates.has(shown.state));
  if (detail.isPending)
    return (
      <aside aria-label="Job detail">
        <Spinner size="md" aria-label="Loading the job" />
      </aside>
    );
  if (detail.isError)
    return (
      <aside aria-label="Job detail">
        <InlineError error={detail.error.message} />
      </aside>
    );
  const { job, events, samples } = detail.data;
  const startedMs = job.startedAt ? Date.parse(job.startedAt) : null;
  const endedMs = job.endedAt ? Date.parse(job.endedAt) : null;
  const recordedUntil = samples.at(-1)?.at ?? 0;
  const plotted = [...samples, ...liveSamples.current.filter((sample) => sample.at > recordedUntil)];
  const stages = live?.stages ?? (job.result?.stages as Record<string, number> | undefined) ?? {};
  const bottleneck = live?.bottleneck ?? (job.result?.bottleneck as string | undefined);
  return (
    <aside aria-labelledby="job-detail-heading" className="pf-v6-u-p-md pf-v6-c-card">
      <Flex justifyContent={{ default: 'justifyContentSpaceBetween' }} alignItems={{ default: 'alignItemsCenter' }}>
        <FlexItem>
          <Title headingLevel="h3" id="job-detail-heading">
            {job.vmName}: {job.state}
          </Title>
        </FlexItem>
        <FlexItem>
          <Button variant="secondary" onClick={() => selectJob(null)}>
            Close details
          </Button>
        </FlexItem>
      </Flex>
      <p>{job.summary}</p>
      <DescriptionList isCompact isHorizontal>
        <Fact term="State">
          <StateLabel state={job.state} /> {job.queue && placeText(job.queue)}
          {job.state === 'waiting-for-operator' && job.waitingFor && <> needs you: {job.waitingFor}</>}
        </Fact>
        <Fact term="Kind">{kindName(job.kind)}</Fact>
        <Fact term="Asked for by">{job.requestedBy ?? '—'}</Fact>
        <Fact term="Queued">{formatTime(job.createdAt)}</Fact>
        <Fact term="Started">{job.startedAt ? formatTime(job.startedAt) : '—'}</Fact>
        <Fact term="Ended">{job.endedAt ? formatTime(job.endedAt) : '—'}</Fact>
        {startedMs !== null && <Fact term="Took">{formatSeconds(((endedMs ?? now) - startedMs) / 1000)}</Fact>}
      </DescriptionList>
      <JobActions job={job} />
      <InlineError error={job.error} />
      <Title headingLevel="h3">Steps</Title>
      <ol className="pf-v6-c-list">
        {job.steps.map((step) => (
          <li key={step.name}>
            {step.title} <span className="pf-v6-u-color-200">({step.state})</span>
          </li>
        ))}
      </ol>
      <CarriedBy job={job} />
      <StageBars stages={stages} bottleneck={bottleneck} />
      {startedMs !== null && (
        <ThroughputPlot samples={plotted} window={{ startMs: startedMs, endMs: endedMs ?? Math.max(now, plotted.at(-1)?.at ?? now) }} />
      )}
      <TapesRead job={job} />
      <Title headingLevel="h3">Log</Title>
      {/* It scrolls on its own: focusable, so a keyboard can scroll it too. */}
      <ol
        aria-label="Job log"
        tabIndex={0}
        className="pf-v6-c-list pf-m-plain pf-v6-u-font-size-sm"
        style={{ maxHeight: '16rem', overflowY: 'auto' }}
      >
        {events.map((event, index) => (
          <li key={index} className={event.level === 'error' ? 'pf-v6-u-danger-color-100' : undefined}>
            <span className="pf-v6-u-color-200">{formatTime(event.at)}</span>{' '}
            {event.step && <span className="pf-v6-u-color-200">[{event.step}]</span>} {event.message}
          </li>
        ))}
      </ol>
    </aside>
  );
}
