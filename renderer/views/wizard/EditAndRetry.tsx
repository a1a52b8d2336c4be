// "Edit and retry" on a failed restore job: the wizard again, with the job's answers, at its summary.
import { Button } from '@patternfly/react-core';
import type { Job } from '../../../shared/domain.ts';
import { useApi, useVms } from '../../api/queries.ts';
import { useConsole } from '../../store.ts';
import { answersFromJob, retryable } from './answers.ts';
import { useState } from 'react';
import { InlineError } from '../common/InlineError.tsx';

export function EditAndRetry({ job }: { job: Job }) {
  const api = useApi();
  const vms = useVms();
  const retryWizard = useConsole((state) => state.retryWizard);
  const [error, setError] = useState<string | null>(null);
  if (job.state !== 'failed' || !retryable(job)) return null;
  const retry = async (): Promise<void> => {
    setError(null);
    try {
      const { params } = await api.invoke('jobs.get', { jobId: job.id });
      const answers = answersFromJob(job, params, (name) => vms.data?.find((vm) => vm.name === name)?.id);
      if (answers) retryWizard(answers);
      else setError('This job kept no request the wizard can read; start a new restore.');
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  return (
    <>
      <Button variant="secondary" onClick={() => void retry()}>
        Edit and retry
      </Button>
      <InlineError error={error} />
    </>
  );
}
