// Restores from tape run as one job per VM, but the tapes are read once for all of them. Every
// tape job is declared when it is queued; a job joins when it reaches its transfer. A pass starts
// when no declared job is still on its way (so every queued VM that needs the tapes is served by
// it, whichever request it came from) and no other pass runs; jobs that join during a pass are
// served together by the next one. Jobs cancelled or failed before they join stop being waited for.
import { LifeboatError } from '../errors.ts';
import type { PassConsumer, TapeReport } from './tape-pass.ts';

type Member = { consumer: PassConsumer; resolve(reports: TapeReport[]): void; reject(error: Error): void };

export class PassCoordinator {
  private readonly runPass: (consumers: PassConsumer[]) => Promise<TapeReport[]>;
  /** Declared jobs that have not joined yet. */
  private readonly expected = new Set<string>();
  /** Joined, waiting for the next pass. */
  private waiting: Member[] = [];
  private running = false;

  constructor(runPass: (consumers: PassConsumer[]) => Promise<TapeReport[]>) {
    this.runPass = runPass;
  }

  /** Declares tape jobs as they are queued, before any of them runs. */
  expect(jobIds: string[]): void {
    for (const id of jobIds) this.expected.add(id);
  }

  /** A declared job ended without joining (cancelled while queued, failed before its transfer). */
  left(jobId: string): void {
    if (this.expected.delete(jobId)) this.maybeStart();
  }

  /** Joins the next pass; resolves with the tapes read once the pass is over. */
  join(consumer: PassConsumer): Promise<TapeReport[]> {
    return new Promise<TapeReport[]>((resolve, reject) => {
      const member: Member = { consumer, resolve, reject };
      this.waiting.push(member);
      this.expected.delete(consumer.jobId);
      // Cancelled: the job ends now. Before its pass it leaves the queue; during its pass the
      // pass stops serving it (and goes on for the others).
      consumer.signal.addEventListener(
        'abort',
        () => {
          reject(new LifeboatError('cancelled', 'the job was cancelled by the operator'));
          if (!this.waiting.includes(member)) return;
          this.waiting = this.waiting.filter((other) => other !== member);
          this.maybeStart();
        },
        { once: true },
      );
      this.maybeStart();
    });
  }

  /** Joins, then writes the job's log lines for the tapes read. */
  async joinAndReport(consumer: PassConsumer): Promise<TapeReport[]> {
    consumer.log('waiting for the other restores that need these tapes, to read each tape once for all');
    const reports = await this.join(consumer);
    for (const tape of reports) {
      consumer.log(
        `tape ${tape.barcode}: ${tape.loads} load(s), ${tape.passes} pass(es), ${tape.starvedEvents} drive-starved event(s), ${tape.bytesRead} bytes read`,
        tape.starvedEvents > 0 ? 'warning' : 'info',
      );
    }
    return reports;
  }

  private maybeStart(): void {
    if (this.running || this.expected.size > 0 || this.waiting.length === 0) return;
    const members = this.waiting;
    this.waiting = [];
    this.running = true;
    this.runPass(members.map((member) => member.consumer))
      .then(
        (reports) => {
          for (const member of members) {
            const mine = reports.filter((report) => report.jobIds.includes(member.consumer.jobId));
            if (member.consumer.failure) member.reject(member.consumer.failure);
            else if (member.consumer.signal.aborted) member.reject(new LifeboatError('cancelled', 'the job was cancelled by the operator'));
            else member.resolve(mine);
          }
        },
        (error: unknown) => {
          for (const member of members) member.reject(member.consumer.failure ?? (error as Error));
        },
      )
      .finally(() => {
        this.running = false;
        this.maybeStart();
      });
  }
}
