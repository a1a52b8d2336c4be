// Operator prompts, engine-wide: a job that needs something only a person can do (put a tape in
// the library) raises a prompt and waits. A prompt closes when the operator answers it (console
// or CLI), when the engine sees the tape arrive on its own, or when its jobs are cancelled.
import { randomUUID } from 'node:crypto';
import { finishedJobStates, type Prompt } from '../../shared/domain.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { EngineEvents } from '../jobs/events.ts';
import { LifeboatError } from '../errors.ts';
import { sleep } from '../drivers/tape/virtual-drive.ts';

const POLL_MS = 250;
/** A bound on a prompt's life (about 12 days of polling); a job that waits longer fails. */
const MAX_POLLS = 4_000_000;

export type TapeRequest = { barcode: string; jobIds: string[]; place: string; message: string };

export class PromptBoard {
  private readonly catalog: Catalog;
  private readonly events: EngineEvents;
  private readonly isOnline: (barcode: string) => Promise<boolean>;
  private readonly answered = new Map<string, () => void>();

  constructor(catalog: Catalog, events: EngineEvents, isOnline: (barcode: string) => Promise<boolean>) {
    this.catalog = catalog;
    this.events = events;
    this.isOnline = isOnline;
    // A job that ended without its waiting loop hearing it (another engine of a shared catalog
    // marked it interrupted when its own engine died) leaves a prompt nobody waits for.
    events.on('job.updated', (job) => {
      if (job.state === 'interrupted') this.expireWhenJobsEnded(job.id);
    });
  }

  private expireWhenJobsEnded(jobId: string): void {
    for (const prompt of this.catalog.tapes.prompts(true)) {
      if (!prompt.jobIds.includes(jobId)) continue;
      const ended = prompt.jobIds.every((id) => {
        const job = this.catalog.getJob(id);
        return job === null || finishedJobStates.has(job.state);
      });
      if (ended) this.close(prompt.id, 'expired', null);
    }
  }

  /** Closes what a previous engine left open (nobody waits for those any more). */
  expireLeftovers(): number {
    return this.catalog.tapes.expireOpenPrompts();
  }

  private close(id: string, state: Exclude<Prompt['state'], 'open'>, by: string | null): Prompt | null {
    const closed = this.catalog.tapes.closePrompt(id, state, by);
    if (closed) this.events.emit('prompt.updated', closed);
    return closed;
  }

  /** Raises a prompt for a tape and waits until it is in the library. */
  waitForTape(request: TapeRequest, signal: AbortSignal): Promise<Prompt> {
    return this.waitFor(this.raise(request), signal);
  }

  /** Raises a prompt for a tape, shown at once: a request asks for all its offline tapes
   * together and waits for each when it gets to it (waitFor). */
  raise(request: TapeRequest): Prompt {
    const prompt: Prompt = {
      id: randomUUID(),
      jobIds: request.jobIds,
      kind: 'insert-tape',
      barcode: request.barcode,
      message: request.message,
      place: request.place,
      state: 'open',
      createdAt: new Date().toISOString(),
      closedAt: null,
      closedBy: null,
    };
    this.catalog.tapes.openPrompt(prompt);
    this.events.emit('prompt.updated', prompt);
    return prompt;
  }

  /** Closes the raised prompts whose tape has arrived, before anyone waits on them: the operator
   * sees at once which of the tapes asked for are still missing. */
  async sweep(prompts: Prompt[]): Promise<void> {
    for (const prompt of prompts) {
      if (prompt.barcode === null || this.catalog.tapes.prompt(prompt.id)?.state !== 'open') continue;
      if (await this.isOnline(prompt.barcode)) this.close(prompt.id, 'detected', 'library');
    }
  }

  isOpen(id: string): boolean {
    return this.catalog.tapes.prompt(id)?.state === 'open';
  }

  /** Closes a raised prompt nobody needs any more (its jobs ended or were served without it). */
  withdraw(id: string): void {
    this.close(id, 'cancelled', null);
  }

  /** Waits until the tape of a raised prompt is in the library or the operator answers it. */
  async waitFor(prompt: Prompt, signal: AbortSignal): Promise<Prompt> {
    const barcode = prompt.barcode as string;
    let wake: (() => void) | null = null;
    this.answered.set(prompt.id, () => wake?.());
    try {
      for (let poll = 0; poll < MAX_POLLS; poll++) {
        if (signal.aborted) {
          this.close(prompt.id, 'cancelled', null);
          throw new LifeboatError('cancelled', `the job was cancelled while it waited for tape ${barcode}`);
        }
        const current = this.catalog.tapes.prompt(prompt.id);
        if (current && current.state !== 'open') return current;
        if (await this.isOnline(barcode)) return this.close(prompt.id, 'detected', 'library') ?? prompt;
        await Promise.race([sleep(POLL_MS, signal).catch(() => undefined), new Promise<void>((resolve) => (wake = resolve))]);
      }
      throw new LifeboatError('unavailable', `nobody brought tape ${barcode}`);
    } finally {
      this.answered.delete(prompt.id);
    }
  }

  /** The operator says it is done; `barcode` is the tape they put in, when they say which. */
  async answer(id: string, operator: string, barcode?: string): Promise<Prompt> {
    const prompt = this.catalog.tapes.prompt(id);
    if (!prompt) throw new LifeboatError('not-found', `no prompt ${id}`);
    if (prompt.state !== 'open') throw new LifeboatError('conflict', `prompt ${id} is already closed (${prompt.state})`);
    if (barcode !== undefined && prompt.barcode !== null && barcode !== prompt.barcode) {
      throw new LifeboatError('conflict', `tape ${barcode} is not the one needed: insert ${prompt.barcode}`);
    }
    if (prompt.barcode !== null && !(await this.isOnline(prompt.barcode))) {
      throw new LifeboatError(
        'conflict',
        `tape ${prompt.barcode} is still not in the library: put it in ${prompt.place} (\`lifeboat tape import ${prompt.barcode}\`)`,
      );
    }
    const closed = this.close(id, 'answered', operator) ?? prompt;
    this.answered.get(id)?.();
    return closed;
  }

  list(onlyOpen: boolean): Prompt[] {
    return this.catalog.tapes.prompts(onlyOpen);
  }
}
