// "Cancel selected (N)": a confirmation that lists the jobs, then what the engine refused (a job
// that ended meanwhile), in the same dialog.
import { Button, List, ListItem, Modal, ModalBody, ModalFooter, ModalHeader } from '@patternfly/react-core';
import { useState } from 'react';
import type { Job } from '../../../shared/domain.ts';
import { useApi } from '../../api/queries.ts';
import { InlineError } from '../common/InlineError.tsx';

type Refusal = { jobId: string; message: string };

export function CancelSelected({ jobs, onDone }: { jobs: Job[]; onDone(): void }) {
  const api = useApi();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<Refusal[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const close = (): void => {
    setOpen(false);
    setRefused(null);
    setError(null);
  };
  const cancel = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const answer = await api.invoke('jobs.cancelMany', { jobIds: jobs.map((job) => job.id) });
      onDone();
      if (answer.refused.length === 0) close();
      else setRefused(answer.refused);
    } catch (failure) {
      setError((failure as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const names = new Map(jobs.map((job) => [job.id, `${job.vmName}: ${job.summary}`]));
  return (
    <>
      <Button variant="danger" isDisabled={jobs.length === 0} onClick={() => setOpen(true)}>
        Cancel selected ({jobs.length})
      </Button>
      <Modal variant="small" isOpen={open} onClose={close} aria-labelledby="cancel-many-title" aria-describedby="cancel-many-body">
        <ModalHeader title={refused ? 'Some jobs were not cancelled' : `Cancel ${jobs.length} job(s)?`} labelId="cancel-many-title" />
        <ModalBody id="cancel-many-body">
          {refused ? (
            <List aria-label="Jobs not cancelled">
              {refused.map((refusal) => (
                <ListItem key={refusal.jobId}>
                  {names.get(refusal.jobId) ?? refusal.jobId}: {refusal.message}
                </ListItem>
              ))}
            </List>
          ) : (
            <>
              <p>What they made so far is removed.</p>
              <List aria-label="Jobs to cancel" style={{ maxHeight: '14rem', overflowY: 'auto' }} tabIndex={0}>
                {jobs.map((job) => (
                  <ListItem key={job.id}>{names.get(job.id)}</ListItem>
                ))}
              </List>
            </>
          )}
          <InlineError error={error} />
        </ModalBody>
        <ModalFooter>
          {refused ? (
            <Button onClick={close}>Close</Button>
          ) : (
            <>
              <Button variant="danger" onClick={() => void cancel()} isLoading={busy} isDisabled={busy}>
                Yes, cancel {jobs.length} job(s)
              </Button>
              <Button variant="link" onClick={close}>
                Keep them
              </Button>
            </>
          )}
        </ModalFooter>
      </Modal>
    </>
  );
}
