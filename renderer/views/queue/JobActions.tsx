// What an operator can do to one job: cancel it, resume or discard an interrupted one, approve a
// held one (four-eyes), edit and retry a failed restore. Destructive actions ask first.
import { Button, Flex, Form } from '@patternfly/react-core';
import { useState, type FormEvent } from 'react';
import { finishedJobStates, type Job } from '../../../shared/domain.ts';
import { useApi } from '../../api/queries.ts';
import { Confirmed } from '../Confirmed.tsx';
import { InlineError } from '../common/InlineError.tsx';
import { EditAndRetry } from '../wizard/EditAndRetry.tsx';

/** Four-eyes: a second signed-in person with the approver role approves. */
function ApprovalBox({ job }: { job: Job }) {
  const api = useApi();
  const [error, setError] = useState<string | null>(null);
  const approve = (event: FormEvent): void => {
    event.preventDefault();
    api.invoke('jobs.approve', { jobId: job.id }).then(
      () => setError(null),
      (failure: Error) => setError(failure.message),
    );
  };
  return (
    <Form onSubmit={approve}>
      <p>
        Awaiting approval: asked for by {job.requestedBy ?? 'an operator'}; another signed-in account with the approver role must approve.
      </p>
      <Button type="submit">Approve as the signed-in account</Button>
      <InlineError error={error} />
    </Form>
  );
}

export function JobActions({ job }: { job: Job }) {
  const api = useApi();
  return (
    <>
      <Flex spaceItems={{ default: 'spaceItemsSm' }}>
        {!finishedJobStates.has(job.state) && (
          <Confirmed
            label={`Cancel job for ${job.vmName}`}
            question={`Cancel ${job.summary}? What it made so far is removed.`}
            confirmLabel="Yes, cancel it"
            onConfirm={() => void api.invoke('jobs.cancel', { jobId: job.id })}
          />
        )}
        {job.state === 'interrupted' && job.kind === 'restore-entire-vm' && (
          <Button variant="secondary" onClick={() => void api.invoke('jobs.resume', { jobId: job.id })}>
            Resume job for {job.vmName}
          </Button>
        )}
        {job.state === 'interrupted' && (
          <Confirmed
            label={`Discard job for ${job.vmName}`}
            question="Discard it? What it left behind is removed and it cannot be resumed."
            confirmLabel="Yes, discard"
            onConfirm={() => void api.invoke('jobs.discard', { jobId: job.id })}
          />
        )}
        <EditAndRetry job={job} />
      </Flex>
      {job.state === 'waiting-for-operator' && job.waitingFor === 'approval' && <ApprovalBox job={job} />}
    </>
  );
}
