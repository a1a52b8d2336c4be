// Jobs that wait for the operator (a tape to insert, an approval), each with what it asks and
// a button that opens it.
import { DataList } from '@patternfly/react-core';
import { useJobs, useOpenPrompts } from '../../api/queries.ts';
import { HomeCard, Nothing } from './HomeCard.tsx';
import { JobLine } from './JobLine.tsx';

export function JobsNeedingYou() {
  const jobs = useJobs();
  const prompts = useOpenPrompts();
  const waiting = jobs.data?.filter((job) => job.state === 'waiting-for-operator') ?? [];
  return (
    <HomeCard title="Jobs waiting for you" view="jobs" goTo="Go to the job queue">
      {jobs.isPending ? (
        <Nothing>Loading the jobs…</Nothing>
      ) : waiting.length === 0 ? (
        <Nothing>Nothing needs you.</Nothing>
      ) : (
        <DataList aria-label="Jobs waiting for you" isCompact>
          {waiting.map((job) => {
            const asked = prompts.data?.filter((prompt) => prompt.jobIds.includes(job.id)) ?? [];
            return (
              <JobLine key={job.id} job={job}>
                {asked.length > 0
                  ? asked.map((prompt) => (
                      <span key={prompt.id}>
                        {prompt.message}. Put it in {prompt.place}.
                      </span>
                    ))
                  : job.waitingFor && <span>Waiting for {job.waitingFor}</span>}
              </JobLine>
            );
          })}
        </DataList>
      )}
    </HomeCard>
  );
}
