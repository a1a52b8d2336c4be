// Restores from tape run as one job per VM, but the tapes are read once for all of them. Every
// tape job is declared when it is queued; a job joins when it reaches its transfer. A pass starts
// when no declared job is still on its way (so every queued VM that needs the tapes is served by
// it, whichever request it came from) and no other pass runs; jobs that join during a pass are
// served together by the next one. Jobs cancelled or failed before they join stop being waited for.
// A job goes on as soon as the pass has read all it needs, not when the pass ends.
import { LifeboatError } from '../errors.ts';
import type { PassConsumer, TapeReport } from './tape-pass.ts';

type Member = { consumer: PassConsumer; resolve(reports: TapeReport[]): void; reject(error: Error): void };
export type RunPass = (
  consumers: PassConsumer[],
  finished: (consumer: PassConsumer, reports: TapeReport[]) => void,
) => Promise<TapeReport[]>;

export class PassCoordinator {
  private readonly runPass: RunPass;
  /** Declared jobs that have not joined yet. */
  private readonly expected = new Set<string>();
  /** Joined, waiting for the next pass. */
  private waiting: Member[] = [];
  private running = false;

  constructor(runPass: RunPass) {
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
    const others = [...this.expected].filter((id) => id !== consumer.jobId).length;
    if (this.running)
      consumer.log('waiting for the tape pass under way to end; the next one reads each tape once for this restore and any that join it');
    else if (others > 0) consumer.log(`waiting for ${others} other restore(s) of these tapes to get here, to read each tape once for all`);
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
    const served = new Set<Member>();
    const finished = (consumer: PassConsumer, reports: TapeReport[]): void => {
      const member = members.find((candidate) => candidate.consumer === consumer);
      if (!member || served.has(member) || consumer.failure || consumer.signal.aborted) return;
      served.add(member);
      member.resolve(reports);
    };
    this.runPass(
      members.map((member) => member.consumer),
      finished,
    )
      .then(
        (reports) => {
          for (const member of members.filter((candidate) => !served.has(candidate))) {
            const mine = reports.filter((report) => report.jobIds.includes(member.consumer.jobId));
            if (member.consumer.failure) member.reject(member.consumer.failure);
            else if (member.consumer.signal.aborted) member.reject(new LifeboatError('cancelled', 'the job was cancelled by the operator'));
            else member.resolve(mine);
          }
        },
        (error: unknown) => {
          for (const member of members.filter((candidate) => !served.has(candidate)))
            member.reject(member.consumer.failure ?? (error as Error));
        },
      )
      .finally(() => {
        this.running = false;
        this.maybeStart();
      });
  }
}
