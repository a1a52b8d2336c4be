// A job's row as it is first written: what a caller does not give is what a job that never ran
// has (no progress, no error, no result, not started). The queue writes every job this way; tests
// and the bench that put a job in a catalog themselves use it too.
import type { Job } from '../../shared/domain.ts';

export function newJobRecord(fields: Pick<Job, 'id' | 'kind' | 'state' | 'vmName' | 'summary'> & Partial<Job>): Job {
  return {
    vmId: null,
    steps: [],
    currentStep: null,
    bytesDone: 0,
    bytesTotal: 0,
    error: null,
    result: null,
    createdAt: new Date().toISOString(),
    startedAt: null,
    endedAt: null,
    waitingFor: null,
    requestedBy: null,
    queue: null,
    ...fields,
  };
}
