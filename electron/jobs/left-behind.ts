// What becomes of a job that stays with the engine that queued it (it is not in the shared queue)
// when another engine of a shared catalog finds that engine dead: the job ends interrupted, and
// this says why it was not taken over and what happens instead.
import type { JobKind } from '../../shared/domain.ts';

export function notTakenOver(kind: JobKind): string {
  if (kind.startsWith('tape-'))
    return `a ${kind} job reads or writes tapes through its engine's own session with the library and is not taken over; the drives that engine held were let go with its session, so the job can be run again from any engine that reaches the same library`;
  if (kind.startsWith('instant-'))
    return `Instant Recovery is served from the machine that started it (the host mounts that machine's NFS address) and is not taken over; when that engine starts again it serves its running sessions again from their write caches, and finishes the ones left starting or stopping`;
  return `a ${kind} job stays with the engine that queued it and is not taken over by another; run it again from any engine`;
}
