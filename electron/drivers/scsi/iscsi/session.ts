// An iSCSI session to one target (RFC 7143, ErrorRecoveryLevel 0, one connection): SCSI commands
// with their Data-In and Data-Out phases, the CmdSN window, keep-alive pings, task management, and
// a new login when the connection drops. Commands in flight when it drops are failed, not re-sent
// (a tape WRITE or SPACE must not run twice), unless the caller marked them retryable.
import { hostname } from 'node:os';
import { LifeboatError } from '../../../errors.ts';
import { ScsiStatus, type ScsiBus, type ScsiDevice, type ScsiResult } from '../scsi-device.ts';
import { commandName } from './command-names.ts';
import { IscsiConnection } from './connection.ts';
import { login, newIsid, type Chap } from './login.ts';
import { parseReportLuns, reportLunsCdb } from './luns.ts';
import type { SessionParams } from './params.ts';
import { flagsOf, NO_TAG, Opcode, opcodeOf, serialBefore, word, type Pdu } from './pdu.ts';
import { dataOutBhs, logoutBhs, nopOutBhs, scsiCommandBhs, TaskFunction, taskManagementBhs, type Numbering } from './requests.ts';
import { KeepAlive } from './keep-alive.ts';
import { dataOutSegments, placeDataIn, resultOf, unsolicitedData, type IscsiCommand, type Task } from './task.ts';
import { iscsiAddress, type IscsiTarget } from './url.ts';

export type IscsiOptions = IscsiTarget & {
  initiatorName?: string;
  chap?: Chap;
  connectTimeoutMs?: number;
  /** Cancels the first connection and login. */
  signal?: AbortSignal;
  /** Ping an idle connection this often; a ping unanswered as long again drops it. Default 15 s. */
  keepAliveMs?: number;
  /** Logins tried after a dropped connection before commands fail. Default 4. */
  reconnectAttempts?: number;
  /** Offer CRC32C header and data digests first (a target that wants them gets them anyway). */
  digests?: boolean;
};

export type { IscsiCommand };

export interface IscsiLun extends ScsiDevice {
  readonly lun: number;
  execute(command: IscsiCommand): Promise<ScsiResult>;
  /** LOGICAL UNIT RESET: ends every task on the LUN (a stuck drive); resolves when the target confirms. */
  reset(): Promise<void>;
}

type Pending = { resolve: (pdu: Pdu) => void; reject: (error: Error) => void };

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;
const MANAGEMENT_TIMEOUT_MS = 10_000;
const MAX_CDB = 16;

export function defaultInitiatorName(): string {
  const host =
    hostname()
      .toLowerCase()
      .replace(/[^a-z0-9.-]+/g, '-') || 'host';
  return `iqn.2026-12.org.lifeboat:${host}`;
}

export class IscsiSession implements ScsiBus {
  readonly address: string;
  readonly #options: IscsiOptions;
  readonly #isid = newIsid();
  readonly #initiatorName: string;
  #connection: IscsiConnection | null = null;
  #reconnecting: Promise<void> | null = null;
  #closed = false;
  #params: SessionParams | null = null;
  #cmdSN = 1;
  #expStatSN = 0;
  #maxCmdSN = 1;
  #nextItt = 1;
  /** Not yet sent: waiting for the CmdSN window or a connection. Kept in call order. */
  #queue: Task[] = [];
  /** Sent and not yet answered, by ITT. */
  #active = new Map<number, Task>();
  /** Immediate requests (pings, task management, logout) waiting for their answer, by ITT. */
  #pending = new Map<number, Pending>();
  readonly #keepAlive: KeepAlive;
  #logins = 0;

  private constructor(options: IscsiOptions) {
    this.#options = options;
    this.address = iscsiAddress(options);
    this.#initiatorName = options.initiatorName ?? defaultInitiatorName();
    this.#keepAlive = new KeepAlive(
      options.keepAliveMs ?? 15_000,
      () => this.#ping(),
      (silentMs) => {
        const reason = new LifeboatError('unavailable', `${this.address}: the target answered no NOP-Out ping for ${silentMs} ms`);
        this.#connection?.destroy(reason);
      },
    );
  }

  static async connect(options: IscsiOptions): Promise<IscsiSession> {
    const session = new IscsiSession(options);
    await session.#establish(options.signal);
    return session;
  }

  /** Successful logins so far: 1, plus one per reconnect (for tests and diagnostics). */
  get logins(): number {
    return this.#logins;
  }

  /** What the login settled (for tests and diagnostics). */
  get params(): SessionParams | null {
    return this.#params;
  }

  device(lun: number): IscsiLun {
    const execute = (command: IscsiCommand): Promise<ScsiResult> => this.#execute(lun, command);
    const reset = (): Promise<void> => this.#manage(TaskFunction.logicalUnitReset, lun, null).then(() => undefined);
    return { lun, address: `${this.address}/${lun}`, execute, reset };
  }

  /** REPORT LUNS on LUN 0; asks again with a bigger buffer when the list did not fit. */
  async devices(): Promise<IscsiLun[]> {
    let allocation = 8 + 8 * 256;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const result = await this.#execute(0, {
        cdb: reportLunsCdb(allocation),
        dataInLength: allocation,
        attribute: 'simple',
        retryable: true,
      });
      if (result.status !== ScsiStatus.good) {
        throw new LifeboatError('unavailable', `${this.address}: REPORT LUNS failed with SCSI status ${result.status.toString(16)}h`);
      }
      const { listLength, luns } = parseReportLuns(result.data);
      if (8 + listLength <= allocation || allocation >= 8 + 8 * 16384) return luns.map((lun) => this.device(lun));
      allocation = Math.min(8 + listLength, 8 + 8 * 16384);
    }
    throw new LifeboatError('unavailable', `${this.address}: the REPORT LUNS list kept growing`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#keepAlive.stop();
    const closing = new LifeboatError('unavailable', `${this.address}: the iSCSI session was closed`);
    for (const task of this.#queue.splice(0)) this.#fail(task, closing);
    for (const task of [...this.#active.values()]) this.#fail(task, closing);
    await this.#reconnecting?.catch(() => undefined);
    const connection = this.#connection;
    if (!connection || connection.ended) return;
    try {
      await this.#immediate(logoutBhs(this.#numbering(this.#itt())), MANAGEMENT_TIMEOUT_MS);
    } catch {
      // The target may already be gone: the socket is closed below either way.
    }
    await connection.closeGracefully(1000);
    this.#connection = null;
  }

  // ── connection life ─────────────────────────────────────────────────────────────────────────

  /** A new connection and a leading login with our ISID and TSIH 0: on a reconnect the target reinstates the session. */
  async #establish(signal?: AbortSignal): Promise<void> {
    const timeoutMs = this.#options.connectTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    const connection = await IscsiConnection.open(this.#options.host, this.#options.port, timeoutMs, signal);
    const onAbort = (): void => connection.destroy(new LifeboatError('cancelled', `${this.address}: the login was cancelled`));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await login(connection, {
        initiatorName: this.#initiatorName,
        targetName: this.#options.targetName,
        isid: this.#isid,
        cmdSN: this.#cmdSN,
        timeoutMs,
        preferDigests: this.#options.digests ?? false,
        ...(this.#options.chap ? { chap: this.#options.chap } : {}),
      });
      this.#params = result.params;
      this.#expStatSN = result.expStatSN;
      this.#cmdSN = result.expCmdSN;
      this.#maxCmdSN = result.maxCmdSN;
    } catch (error) {
      connection.destroy();
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (this.#closed) {
      connection.destroy();
      return;
    }
    this.#connection = connection;
    this.#logins += 1;
    this.#keepAlive.start();
    void this.#read(connection);
    this.#pump();
  }

  async #read(connection: IscsiConnection): Promise<void> {
    try {
      for (;;) {
        const pdu = await connection.receive();
        this.#keepAlive.heard();
        this.#handle(connection, pdu);
      }
    } catch (error) {
      const reason = error instanceof LifeboatError ? error : new LifeboatError('unavailable', `${this.address}: ${String(error)}`);
      connection.destroy(reason);
      this.#dropped(connection, reason);
    }
  }

  /** Fails what was in flight (re-queues retryable commands once) and logs in again. */
  #dropped(connection: IscsiConnection, reason: LifeboatError): void {
    if (connection !== this.#connection) return;
    this.#connection = null;
    this.#keepAlive.stop();
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
    const resend: Task[] = [];
    for (const task of [...this.#active.values()].sort((a, b) => (serialBefore(a.cmdSN, b.cmdSN) ? -1 : 1))) {
      this.#active.delete(task.itt);
      if (task.command.retryable && !task.retried && !this.#closed) {
        task.retried = true;
        resend.push(task);
      } else {
        this.#fail(
          task,
          new LifeboatError(
            'unavailable',
            `${task.where}: the connection to the target dropped during ${task.name}; it was not sent again, since a tape command may not be repeated safely (${reason.message})`,
            { cause: reason },
          ),
        );
      }
    }
    this.#queue.unshift(...resend);
    if (!this.#closed) void this.#reconnect(reason);
  }

  #reconnect(reason: LifeboatError): Promise<void> {
    this.#reconnecting ??= this.#loginAgain(reason).finally(() => {
      this.#reconnecting = null;
    });
    return this.#reconnecting;
  }

  async #loginAgain(reason: LifeboatError): Promise<void> {
    const attempts = this.#options.reconnectAttempts ?? 4;
    const firstWait = Math.min(this.#params?.defaultTime2Wait ?? 2, 2) * 1000;
    let last: unknown = reason;
    for (let attempt = 0; attempt < attempts && !this.#closed; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, attempt === 0 ? firstWait : 500 * 2 ** attempt));
      if (this.#closed) return;
      try {
        await this.#establish();
        return;
      } catch (error) {
        last = error;
        if (error instanceof LifeboatError && (error.code === 'unauthorized' || error.code === 'not-found')) break;
      }
    }
    const why = last instanceof Error ? last.message : String(last);
    const failure = new LifeboatError(
      'unavailable',
      `${this.address}: the connection to the target dropped and logging in again failed: ${why}`,
      { cause: last },
    );
    for (const task of this.#queue.splice(0)) this.#fail(task, failure);
  }

  // ── commands ────────────────────────────────────────────────────────────────────────────────

  #execute(lun: number, command: IscsiCommand): Promise<ScsiResult> {
    const name = commandName(command.cdb);
    const where = `${this.address}/${lun}`;
    if (command.cdb.length < 1 || command.cdb.length > MAX_CDB) {
      return Promise.reject(
        new LifeboatError('bad-request', `${where}: a ${command.cdb.length}-byte CDB cannot be sent (1 to ${MAX_CDB} bytes)`),
      );
    }
    if (command.dataOut && (command.dataInLength ?? 0) > 0) {
      return Promise.reject(new LifeboatError('bad-request', `${where}: ${name} has both a data-in and a data-out phase`));
    }
    if (this.#closed) return Promise.reject(new LifeboatError('unavailable', `${this.address}: the iSCSI session is closed`));
    if (command.signal?.aborted) return Promise.reject(new LifeboatError('cancelled', `${where}: ${name} was cancelled`));
    return new Promise<ScsiResult>((resolve, reject) => {
      const task: Task = {
        lun,
        command,
        name,
        where,
        itt: NO_TAG,
        cmdSN: 0,
        dataIn: null,
        received: 0,
        retried: false,
        resolve,
        reject,
        cleanup: () => undefined,
      };
      const timeoutMs = command.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
      const timer = setTimeout(
        () => this.#abandon(task, new LifeboatError('unavailable', `${where}: ${name} got no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onAbort = (): void => this.#abandon(task, new LifeboatError('cancelled', `${where}: ${name} was cancelled`));
      command.signal?.addEventListener('abort', onAbort, { once: true });
      task.cleanup = () => {
        clearTimeout(timer);
        command.signal?.removeEventListener('abort', onAbort);
      };
      this.#queue.push(task);
      if (!this.#connection && !this.#reconnecting)
        void this.#reconnect(new LifeboatError('unavailable', `${this.address}: not connected`));
      this.#pump();
    });
  }

  /** Sends queued commands in order while the target's CmdSN window is open. */
  #pump(): void {
    const connection = this.#connection;
    if (!connection || !this.#params) return;
    while (this.#queue.length > 0 && !serialBefore(this.#maxCmdSN, this.#cmdSN)) {
      this.#send(connection, this.#params, this.#queue.shift() as Task);
    }
  }

  #send(connection: IscsiConnection, params: SessionParams, task: Task): void {
    const { command } = task;
    const dataOut = command.dataOut ?? new Uint8Array(0);
    const readLength = command.dataOut ? 0 : (command.dataInLength ?? 0);
    task.itt = this.#itt();
    task.cmdSN = this.#cmdSN;
    this.#cmdSN = (this.#cmdSN + 1) >>> 0;
    task.dataIn = readLength > 0 ? Buffer.alloc(readLength) : null;
    task.received = 0;
    this.#active.set(task.itt, task);
    const { immediate, unsolicited } = unsolicitedData(params, dataOut.length);
    const n: Numbering = { itt: task.itt, cmdSN: task.cmdSN, expStatSN: this.#expStatSN };
    const bhs = scsiCommandBhs(
      task.lun,
      command.cdb,
      { read: readLength, write: dataOut.length },
      command.attribute ?? 'ordered',
      unsolicited > immediate,
      n,
    );
    connection.send(bhs, dataOut.subarray(0, immediate));
    if (unsolicited > immediate) this.#sendData(connection, params, task, NO_TAG, immediate, unsolicited - immediate);
  }

  /** One sequence of Data-Out PDUs (unsolicited, or answering an R2T), each within the target's segment limit. */
  #sendData(connection: IscsiConnection, params: SessionParams, task: Task, ttt: number, offset: number, length: number): void {
    const dataOut = task.command.dataOut ?? new Uint8Array(0);
    for (const { at, size, dataSN, final } of dataOutSegments(params, offset, length)) {
      connection.send(dataOutBhs(task.lun, task.itt, ttt, this.#expStatSN, dataSN, at, final), dataOut.subarray(at, at + size));
    }
  }

  #finish(task: Task, result: ScsiResult): void {
    this.#active.delete(task.itt);
    task.cleanup();
    task.resolve(result);
  }

  #fail(task: Task, error: Error): void {
    this.#active.delete(task.itt);
    this.#queue = this.#queue.filter((other) => other !== task);
    task.cleanup();
    task.reject(error);
  }

  /** A timeout or a cancel: the caller hears now; the target is told with ABORT TASK. */
  #abandon(task: Task, error: LifeboatError): void {
    const sent = this.#active.get(task.itt) === task;
    this.#fail(task, error);
    if (!sent) return;
    this.#manage(TaskFunction.abortTask, task.lun, { itt: task.itt, cmdSN: task.cmdSN }).catch(() => {
      // An unanswered abort means the connection is no use: drop it; the reconnect cleans up.
      const connection = this.#connection;
      if (connection) {
        const reason = new LifeboatError('unavailable', `${this.address}: the target did not answer ABORT TASK for ${task.name}`);
        connection.destroy(reason);
      }
    });
  }

  /** A task management function; resolves with the target's response code (0 = done, 1 = no such task). */
  async #manage(fn: number, lun: number, referenced: { itt: number; cmdSN: number } | null): Promise<number> {
    const answer = await this.#immediate(taskManagementBhs(fn, lun, referenced, this.#numbering(this.#itt())), MANAGEMENT_TIMEOUT_MS);
    const response = answer.bhs[2] as number;
    if (fn === TaskFunction.logicalUnitReset && response !== 0) {
      throw new LifeboatError('unavailable', `${this.address}/${lun}: the target refused LOGICAL UNIT RESET (response ${response})`);
    }
    return response;
  }

  /** Sends an immediate request (it does not take a CmdSN) and waits for the answer with its ITT. */
  #immediate(bhs: Buffer, timeoutMs: number): Promise<Pdu> {
    const connection = this.#connection;
    if (!connection) return Promise.reject(new LifeboatError('unavailable', `${this.address}: not connected`));
    const itt = bhs.readUInt32BE(16);
    return new Promise<Pdu>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(itt);
        reject(new LifeboatError('unavailable', `${this.address}: the target did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#pending.delete(itt);
      };
      this.#pending.set(itt, {
        resolve: (pdu) => {
          done();
          resolve(pdu);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
      connection.send(bhs);
    });
  }

  #itt(): number {
    for (;;) {
      const itt = this.#nextItt;
      this.#nextItt = this.#nextItt >= 0x7fffffff ? 1 : this.#nextItt + 1;
      if (!this.#active.has(itt) && !this.#pending.has(itt)) return itt;
    }
  }

  #numbering(itt: number): Numbering {
    return { itt, cmdSN: this.#cmdSN, expStatSN: this.#expStatSN };
  }

  // ── what the target sends ───────────────────────────────────────────────────────────────────

  #handle(connection: IscsiConnection, pdu: Pdu): void {
    const opcode = opcodeOf(pdu);
    if (opcode !== Opcode.r2t) this.#acknowledge(pdu, opcode);
    this.#window(pdu);
    const itt = word(pdu, 16);
    switch (opcode) {
      case Opcode.dataIn:
        return this.#dataIn(pdu, itt);
      case Opcode.scsiResponse:
        return this.#response(pdu, itt);
      case Opcode.r2t:
        return this.#r2t(connection, pdu, itt);
      case Opcode.nopIn:
        if (itt === NO_TAG) {
          const ttt = word(pdu, 20);
          if (ttt !== NO_TAG) connection.send(nopOutBhs(NO_TAG, ttt, pdu.bhs.subarray(8, 16), this.#cmdSN, this.#expStatSN));
          return;
        }
        if (!this.#keepAlive.answers(itt)) this.#pending.get(itt)?.resolve(pdu);
        return;
      case Opcode.taskManagementResponse:
      case Opcode.logoutResponse:
        this.#pending.get(itt)?.resolve(pdu);
        return;
      case Opcode.asyncMessage:
        return this.#async(connection, pdu);
      case Opcode.reject:
        return this.#rejected(pdu);
      default:
        throw new LifeboatError('unavailable', `${this.address}: the target sent an unexpected PDU (opcode ${opcode.toString(16)}h)`);
    }
  }

  /** StatSN acknowledgement: every PDU with a status moves ExpStatSN on. */
  #acknowledge(pdu: Pdu, opcode: number): void {
    const hasStatus = opcode === Opcode.dataIn ? (flagsOf(pdu) & 0x01) !== 0 : !(opcode === Opcode.nopIn && word(pdu, 16) === NO_TAG);
    if (!hasStatus) return;
    const next = (word(pdu, 24) + 1) >>> 0;
    if (serialBefore(this.#expStatSN, next)) this.#expStatSN = next;
  }

  /** ExpCmdSN/MaxCmdSN: the window may open (RFC 7143 §4.2.2.1: ignore a MaxCmdSN below ExpCmdSN-1). */
  #window(pdu: Pdu): void {
    const expCmdSN = word(pdu, 28);
    const maxCmdSN = word(pdu, 32);
    if (serialBefore(maxCmdSN, (expCmdSN - 1) >>> 0)) return;
    if (serialBefore(this.#maxCmdSN, maxCmdSN)) {
      this.#maxCmdSN = maxCmdSN;
      queueMicrotask(() => this.#pump());
    }
  }

  #dataIn(pdu: Pdu, itt: number): void {
    const task = this.#active.get(itt);
    if (!task) return; // an abandoned task's late data
    placeDataIn(task, pdu);
    if ((flagsOf(pdu) & 0x01) !== 0) this.#finish(task, resultOf(task, pdu, false)); // S: the status came with the data
  }

  #response(pdu: Pdu, itt: number): void {
    const task = this.#active.get(itt);
    if (!task) return;
    const response = pdu.bhs[2] as number;
    if (response === 0) this.#finish(task, resultOf(task, pdu, true));
    else
      this.#fail(
        task,
        new LifeboatError('unavailable', `${task.where}: the target failed ${task.name} (iSCSI response ${response.toString(16)}h)`),
      );
  }

  #r2t(connection: IscsiConnection, pdu: Pdu, itt: number): void {
    const task = this.#active.get(itt);
    if (!task || !this.#params) return;
    const offset = word(pdu, 40);
    const length = word(pdu, 44);
    const total = task.command.dataOut?.length ?? 0;
    if (length === 0 || offset + length > total) {
      throw new LifeboatError(
        'unavailable',
        `${task.where}: the target asked for bytes ${offset}+${length} of ${task.name}, which sends ${total}`,
      );
    }
    this.#sendData(connection, this.#params, task, word(pdu, 20), offset, length);
  }

  /** Async messages: the target wants us gone (logout requested, connection or session to drop): log out, log in again. */
  #async(connection: IscsiConnection, pdu: Pdu): void {
    const event = pdu.bhs[36] as number;
    if (event === 0) return; // a SCSI asynchronous event: the next command sees its unit attention
    if (event === 1 || event === 4) connection.send(logoutBhs(this.#numbering(this.#itt())));
    if (event >= 1 && event <= 4) {
      const reason = new LifeboatError('unavailable', `${this.address}: the target asked to end the connection (async event ${event})`);
      setTimeout(() => connection.destroy(reason), event === 1 || event === 4 ? 1000 : 0).unref();
    }
  }

  #rejected(pdu: Pdu): void {
    const reason = pdu.bhs[2] as number;
    const itt = pdu.data.length >= 20 ? pdu.data.readUInt32BE(16) : NO_TAG;
    const task = this.#active.get(itt);
    const error = new LifeboatError(
      'unavailable',
      `${this.address}: the target rejected ${task ? task.name : 'a request'} (reason ${reason.toString(16)}h)`,
    );
    if (task) this.#fail(task, error);
    else this.#pending.get(itt)?.reject(error);
  }

  /** Sends a NOP-Out ping (immediate, no CmdSN) and returns its ITT. */
  #ping(): number {
    const itt = this.#itt();
    this.#connection?.send(nopOutBhs(itt, NO_TAG, null, this.#cmdSN, this.#expStatSN));
    return itt;
  }
}
