// Restores from tape run as one job per VM, but the tapes are read once for all of them: the jobs
// of one request form a group, and the group's pass starts when every job still alive has joined
// it (a job joins when it reaches its disk transfer). Jobs cancelled meanwhile leave the group.
import { LifeboatError } from '../errors.ts';
import type { PassConsumer, TapeReport } from './tape-pass.ts';

type Member = { consumer: PassConsumer; resolve(reports: TapeReport[]): void; reject(error: Error): void };
type Group = { waitingFor: Set<string>; members: Member[]; started: boolean };

export class PassCoordinator {
  private readonly groups = new Map<string, Group>();
  private readonly runPass: (consumers: PassConsumer[]) => Promise<TapeReport[]>;

  constructor(runPass: (consumers: PassConsumer[]) => Promise<TapeReport[]>) {
    this.runPass = runPass;
  }

  /** Declares the jobs of a group before any of them runs. */
  expect(groupId: string, jobIds: string[]): void {
    this.groups.set(groupId, { waitingFor: new Set(jobIds), members: [], started: false });
  }

  /** A job of a group ended without joining (cancelled while queued, failed before its transfer). */
  left(jobId: string): void {
    for (const [id, group] of this.groups) {
      if (group.waitingFor.delete(jobId)) this.maybeStart(id, group);
    }
  }

  /** Joins the group's pass; resolves with the tapes read once the pass is over. */
  join(groupId: string, consumer: PassConsumer): Promise<TapeReport[]> {
    let group = this.groups.get(groupId);
    if (!group) this.groups.set(groupId, (group = { waitingFor: new Set([consumer.jobId]), members: [], started: false }));
    if (group.started) return Promise.reject(new LifeboatError('conflict', `the tape pass of group ${groupId} has already started`));
    const joined = group;
    return new Promise<TapeReport[]>((resolve, reject) => {
      const member: Member = { consumer, resolve, reject };
      joined.members.push(member);
      joined.waitingFor.delete(consumer.jobId);
      // Cancelled while waiting for the others: leave before the pass starts.
      consumer.signal.addEventListener(
        'abort',
        () => {
          if (joined.started) return;
          joined.members = joined.members.filter((other) => other !== member);
          reject(new LifeboatError('cancelled', 'the job was cancelled by the operator'));
          this.maybeStart(groupId, joined);
        },
        { once: true },
      );
      this.maybeStart(groupId, joined);
    });
  }

  /** Joins, then writes the job's log lines for the tapes read. */
  async joinAndReport(groupId: string, consumer: PassConsumer): Promise<TapeReport[]> {
    const reports = await this.join(groupId, consumer);
    for (const tape of reports) {
      consumer.log(`tape ${tape.barcode}: ${tape.loads} load(s), ${tape.passes} pass(es), ${tape.starvedEvents} drive-starved event(s), ${tape.bytesRead} bytes read`, tape.starvedEvents > 0 ? 'warning' : 'info');
    }
    return reports;
  }

  private maybeStart(groupId: string, group: Group): void {
    if (group.started || group.waitingFor.size > 0) return;
    this.groups.delete(groupId);
    if (group.members.length === 0) return;
    group.started = true;
    const members = group.members;
    this.runPass(members.map((member) => member.consumer)).then(
      (reports) => {
        for (const member of members) {
          const mine = reports.filter((report) => report.vms.includes(member.consumer.label));
          if (member.consumer.failure) member.reject(member.consumer.failure);
          else if (member.consumer.signal.aborted) member.reject(new LifeboatError('cancelled', 'the job was cancelled by the operator'));
          else member.resolve(mine);
        }
      },
      (error: unknown) => {
        for (const member of members) member.reject(member.consumer.failure ?? (error as Error));
      },
    );
  }
}
