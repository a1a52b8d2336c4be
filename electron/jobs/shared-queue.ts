// The job queue several engines share (`lifeboat serve --shared`), on pg-boss in the catalog's own
// PostgreSQL database (schema lifeboat_queue). We do not schedule across machines ourselves:
// pg-boss hands each queued job to one engine (SELECT … FOR UPDATE SKIP LOCKED), keeps "one job
// per VM" across engines (a group per VM, at most one of it active), and gives a job whose engine
// stops sending heartbeats to another engine (a retry). The catalog stays the record of the job:
// the queue's row says only "job <id> is waiting for an engine", and is written by the catalog's
// own transaction that inserts the job (pg-boss's insert statement, run on the catalog's
// connection), so a job is in both or in neither.
import { PgBoss } from 'pg-boss';
import { insertJobs, notifyQueue } from 'pg-boss/dist/plans.js';
import type { Job } from '../../shared/domain.ts';

const SCHEMA = 'lifeboat_queue';
const QUEUE = 'jobs';
/** A job whose engine sends no heartbeat for this long is given to another engine (pg-boss's floor is 10 s). */
export const HEARTBEAT_SECONDS = 10;
/** pg-boss ends an active job after at most 24 hours; a job still running then is not run twice
 * (JobQueue.runShared waits for the engine that runs it, as long as it lives). */
const EXPIRE_SECONDS = 24 * 60 * 60;
/** Each death of an engine, or its stop, that hands a job back costs one retry. */
const RETRY_LIMIT = 50;

export type SharedJobData = { jobId: string };
/** Runs PostgreSQL's own SQL on the catalog's connection (inside its open transaction). */
export type CatalogStatementRunner = (sql: string, params: unknown[]) => void;
/** Runs one job the queue handed to this engine; rejects to hand it back to the queue. */
export type SharedJobRunner = (jobId: string) => Promise<void>;

export class SharedQueue {
  private readonly boss: PgBoss;
  private readonly runInCatalog: CatalogStatementRunner;
  private readonly insertSql: string;
  private working = false;

  private constructor(boss: PgBoss, runInCatalog: CatalogStatementRunner, insertSql: string) {
    this.boss = boss;
    this.runInCatalog = runInCatalog;
    this.insertSql = insertSql;
  }

  /** Connects to the catalog's database, makes the queue's schema the first time (pg-boss's own
   * migrations, under its lock) and the queue. `warn`: what pg-boss reports going wrong. */
  static async open(url: string, runInCatalog: CatalogStatementRunner, warn: (line: string) => void): Promise<SharedQueue> {
    const boss = new PgBoss({
      connectionString: url,
      schema: SCHEMA,
      max: 4,
      application_name: 'lifeboat-queue',
      useListenNotify: true,
      schedule: false,
      // How soon a job whose engine died (no heartbeat for HEARTBEAT_SECONDS) is given to another:
      // a queue's jobs are looked at by the supervisor at most once per monitor interval.
      superviseIntervalSeconds: 5,
      monitorIntervalSeconds: 5,
    });
    boss.on('error', (error: Error) => warn(`job queue: ${error.message}`));
    await boss.start();
    try {
      if (!(await boss.getQueue(QUEUE)))
        await boss
          .createQueue(QUEUE, {
            heartbeatSeconds: HEARTBEAT_SECONDS,
            expireInSeconds: EXPIRE_SECONDS,
            retryLimit: RETRY_LIMIT,
            retryDelay: 1,
            notify: true,
          })
          // Another engine made it meanwhile.
          .catch(async (error: unknown) => {
            if (!(await boss.getQueue(QUEUE))) throw error;
          });
      const queue = await boss.getQueue(QUEUE);
      if (!queue) throw new Error(`the job queue ${SCHEMA}.${QUEUE} could not be made`);
      return new SharedQueue(boss, runInCatalog, insertJobs(SCHEMA, { table: queue.table, name: QUEUE, returnId: true, notify: true }));
    } catch (error) {
      await boss.stop({ graceful: false, close: true }).catch(() => undefined);
      throw error;
    }
  }

  /** Puts the job in the queue; called inside the catalog's transaction that inserts it. The
   * job's id is the queue row's id, so the same job is never queued twice. */
  enqueue(job: Job): void {
    const entry = { id: job.id, data: { jobId: job.id } satisfies SharedJobData, group: job.vmId ?? undefined };
    const row = {
      id: entry.id,
      data: entry.data,
      ...(entry.group === undefined ? {} : { groupId: entry.group }),
    };
    this.runInCatalog(this.insertSql, [JSON.stringify([row])]);
  }

  /** Takes jobs from the queue, at most `concurrency` at once here and one per VM across engines. */
  async work(concurrency: number, run: SharedJobRunner): Promise<void> {
    this.working = true;
    await this.boss.work<SharedJobData>(
      QUEUE,
      // A new job wakes the engines at once (NOTIFY); with a backlog the engines fetch without
      // pause (burst); a job given back, or freed by its VM's job ending elsewhere, is seen by polling.
      {
        localConcurrency: concurrency,
        groupConcurrency: 1,
        batchSize: 1,
        pollingIntervalSeconds: 0.5,
        notifyPollingIntervalSeconds: 0.5,
        burstWhenReadyExceeds: 1,
      },
      async ([job]) => {
        if (!job) return;
        await run(job.data.jobId);
        // Settled here rather than after the handler, and the engines woken: the job it freed (its
        // VM's next) starts now, not at their next poll. Only this attempt: a job given to another
        // engine meanwhile is left alone.
        await this.boss.complete(QUEUE, { id: job.id, retryCount: job.retryCount });
        await this.boss.getDb().executeSql(notifyQueue(SCHEMA, QUEUE));
      },
    );
  }

  /** Gives a job whose engine died back to the queue at once (a retry another engine takes),
   * instead of after its heartbeats are missed. Only for an engine known dead (its lock is gone):
   * the job is never run twice. */
  async giveBack(jobId: string, why: string): Promise<void> {
    await this.boss.fail(QUEUE, jobId, { reason: why });
  }

  /** The queue's state of a job (created, retry, active, completed, failed, cancelled), or null
   * when the queue has no row for it (never queued, or removed after its retention). */
  async stateOf(jobId: string): Promise<string | null> {
    const [row] = await this.boss.findJobs(QUEUE, { id: jobId });
    return row?.state ?? null;
  }

  /** Takes no more jobs; the ones running here end as their runner decides (JobQueue.close). */
  async stopTaking(): Promise<void> {
    if (this.working) await this.boss.offWork(QUEUE, { wait: false });
  }

  /** Waits for the runners still going, then disconnects. */
  async close(): Promise<void> {
    await this.boss.stop({ graceful: true, close: true, timeout: 60_000 });
  }
}
