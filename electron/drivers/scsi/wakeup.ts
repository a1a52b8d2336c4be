// One side of a queue waits until the other changed something (a block queued, room made, a
// loop ended); the waiter then looks again. A cancelled wait rejects as the job's cancellation.
import { LifeboatError } from '../../errors.ts';

export class Wakeup {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiting) wake();
  }

  wait(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new LifeboatError('cancelled', 'the job was cancelled by the operator'));
      const done = (): void => {
        signal?.removeEventListener('abort', abort);
        resolve();
      };
      const abort = (): void => {
        this.waiters.delete(done);
        reject(new LifeboatError('cancelled', 'the job was cancelled by the operator'));
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }
}
