// What every tape pass consumer shares: the job it serves, the copy it needs, and the job's
// context for cancel, operator waits, log lines and progress.
import type { TapeCopy } from '../catalog/tape-catalog.ts';
import type { StepContext } from '../jobs/plan.ts';
import type { Frame } from './tape-format.ts';
import type { PassConsumer } from './tape-pass.ts';
import type { Stage } from '../workers/messages.ts';

export type ConsumerOptions = { jobId: string; label: string; copy: TapeCopy; context: StepContext; onBytes(bytes: number): void };

export abstract class ConsumerBase implements PassConsumer {
  readonly jobId: string;
  readonly label: string;
  readonly copy: TapeCopy;
  readonly signal: AbortSignal;
  failure: Error | null = null;
  protected readonly onBytes: (bytes: number) => void;
  private readonly context: StepContext;

  constructor(options: ConsumerOptions) {
    this.jobId = options.jobId;
    this.label = options.label;
    this.copy = options.copy;
    this.context = options.context;
    this.signal = options.context.signal;
    this.onBytes = options.onBytes;
  }

  waiting(what: string | null): void {
    this.context.waiting(what);
  }

  log(message: string, level?: 'info' | 'warning' | 'error'): void {
    this.context.log(message, level);
  }

  busy(stage: Stage, seconds: number): void {
    this.context.busy(stage, seconds);
  }

  abstract deliver(uniqueId: number, frame: Frame, payload: Uint8Array): Promise<void>;
  abstract drain(): Promise<void>;
}
