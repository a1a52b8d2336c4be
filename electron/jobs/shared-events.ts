// Events across the engines of a shared catalog (serve --shared): a console connected to any of
// them sees every job's state and progress, and every operator prompt. Each engine sends its
// events on a PostgreSQL channel (NOTIFY) and tells its own listeners what the others send
// (LISTEN). A job or a prompt travels as its id alone (the catalog is the record, and a NOTIFY
// holds 8000 bytes at most), a job's progress as the figures themselves. (An answer to a prompt
// is the catalog's: the engine that waits reads it there.)
import pg from 'pg';
import { z } from 'zod';
import { JobProgress, type Job, type Prompt } from '../../shared/domain.ts';
import type { EngineEvents } from './events.ts';

const CHANNEL = 'lifeboat_events';
/** How long a lost listening connection waits before it is made again. */
const RECONNECT_MS = 1000;

const SharedEvent = z.discriminatedUnion('event', [
  z.object({ from: z.string().min(1), event: z.literal('job.updated'), jobId: z.string().min(1).max(200) }).strict(),
  z.object({ from: z.string().min(1), event: z.literal('job.progress'), progress: JobProgress }).strict(),
  z.object({ from: z.string().min(1), event: z.literal('prompt.updated'), promptId: z.string().min(1).max(200) }).strict(),
]);
/** The catalog's records of what the events name. */
export type SharedRecords = { job(jobId: string): Job | null; prompt(promptId: string): Prompt | null };
export type SharedEvent = z.infer<typeof SharedEvent>;

/** A notification's text as an event, or null: another engine's words are outside bytes. */
export function parseSharedEvent(text: string | undefined): SharedEvent | null {
  if (text === undefined) return null;
  try {
    const parsed = SharedEvent.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export class SharedEvents {
  private readonly url: string;
  private readonly engineId: string;
  private readonly events: EngineEvents;
  private readonly records: SharedRecords;
  private readonly warn: (line: string) => void;
  private client: pg.Client | null = null;
  private closed = false;
  /** Set while this engine tells its listeners another engine's event: not sent on again. */
  private relaying = false;
  private readonly offs: (() => void)[] = [];

  private constructor(url: string, engineId: string, events: EngineEvents, records: SharedRecords, warn: (line: string) => void) {
    this.url = url;
    this.engineId = engineId;
    this.events = events;
    this.records = records;
    this.warn = warn;
  }

  /** Listens to the other engines and sends this one's events. */
  static async open(
    url: string,
    engineId: string,
    events: EngineEvents,
    records: SharedRecords,
    warn: (line: string) => void,
  ): Promise<SharedEvents> {
    const shared = new SharedEvents(url, engineId, events, records, warn);
    await shared.listen();
    shared.offs.push(
      events.on('job.updated', (job) => shared.send({ from: engineId, event: 'job.updated', jobId: job.id })),
      events.on('job.progress', (progress) => shared.send({ from: engineId, event: 'job.progress', progress })),
      events.on('prompt.updated', (prompt) => shared.send({ from: engineId, event: 'prompt.updated', promptId: prompt.id })),
    );
    return shared;
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'lifeboat-events' });
    client.on('notification', (message) => this.receive(message.payload));
    client.on('error', (error) => this.warn(`events from the other engines: ${error.message}`));
    client.on('end', () => {
      if (this.client !== client || this.closed) return;
      this.client = null;
      // Until it is back, the consoles of this engine see other engines' jobs from the catalog only.
      setTimeout(() => void this.reconnect(), RECONNECT_MS).unref();
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.client = client;
  }

  private async reconnect(): Promise<void> {
    if (this.closed || this.client) return;
    await this.listen().catch((error: unknown) => {
      this.warn(`events from the other engines: ${error instanceof Error ? error.message : String(error)}; trying again`);
      setTimeout(() => void this.reconnect(), RECONNECT_MS).unref();
    });
  }

  /** The NOTIFYs sent so far, one after the other on the one connection (pg runs one query at a time). */
  private sending: Promise<unknown> = Promise.resolve();

  private send(event: SharedEvent): void {
    const client = this.client;
    if (this.relaying || !client) return;
    // Lost with a lost connection: the consoles read the job from the catalog meanwhile.
    this.sending = this.sending
      .then(() => client.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(event)]))
      .catch(() => undefined);
  }

  private receive(payload: string | undefined): void {
    const event = parseSharedEvent(payload);
    if (!event || event.from === this.engineId || this.closed) return;
    this.relaying = true;
    try {
      if (event.event === 'job.progress') this.events.emit('job.progress', event.progress);
      else if (event.event === 'job.updated') {
        const job = this.records.job(event.jobId);
        if (job) this.events.emit('job.updated', job);
      } else {
        const prompt = this.records.prompt(event.promptId);
        if (prompt) this.events.emit('prompt.updated', prompt);
      }
    } finally {
      this.relaying = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const off of this.offs) off();
    const client = this.client;
    this.client = null;
    await this.sending;
    await client?.end().catch(() => undefined);
  }
}
