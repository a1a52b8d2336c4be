// One connection of a joined mover: mutual TLS (its key and certificate; the engine's CA from
// ca.pem the only trust; the host name is not checked because the pinned CA is the trust),
// `hello` with what it reaches, then the engine's messages until the link is lost, the engine
// refuses it, or the mover is stopped. Its tasks end with it: the engine reassigns them.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { LifeboatError, toWireError, type ErrorCode } from '../errors.ts';
import { MOVER_PROTOCOL, type Frame, type MessageOf } from '../movers/protocol.ts';
import type { DatastoreView } from './datastore-view.ts';
import { DiskTask } from './disk-task.ts';
import { EngineLink, EngineRefused, openTls } from './engine-link.ts';
import type { EmitEvent } from './mover-events.ts';
import type { MoverOptions, MoverTuning } from './mover-options.ts';
import type { MoverIdentity, StateFolder } from './state-folder.ts';

const MOVER_VERSION = '0.1.0';

export type SessionEnd =
  { kind: 'lost'; reason: string; welcomed: boolean } | { kind: 'refused'; code: ErrorCode; message: string } | { kind: 'stopped' };

export type SessionDeps = {
  options: MoverOptions;
  tuning: MoverTuning;
  state: StateFolder;
  identity: MoverIdentity;
  views: Map<string, DatastoreView>;
  emit: EmitEvent;
  stop: AbortSignal;
};

class Session {
  private readonly deps: SessionDeps;
  private readonly link: EngineLink;
  private readonly tasks = new Map<string, DiskTask>();
  private refusal: EngineRefused | null = null;
  private renewAfter = Infinity;
  private renewing = false;

  constructor(deps: SessionDeps, link: EngineLink) {
    this.deps = deps;
    this.link = link;
  }

  /** `hello`, and the engine's `welcome` (or its refusal). */
  async greet(): Promise<void> {
    const { options, views, emit, identity } = this.deps;
    const answer = this.link.next();
    await this.link.send({
      type: 'hello',
      protocol: MOVER_PROTOCOL,
      transports: options.transports,
      datastores: Object.fromEntries([...views.values()].map((view) => [view.name, view.root])),
      slots: options.slots,
      version: MOVER_VERSION,
    });
    const { message } = await answer;
    if (message.type === 'refused') throw new EngineRefused(message.code, message.message);
    if (message.type !== 'welcome') throw new LifeboatError('unavailable', `the engine answered hello with ${message.type}`);
    this.renewAfter = Date.parse(message.renewAfter);
    emit({ event: 'connected', mover: message.moverName || identity.name, engine: `${options.engine.host}:${options.engine.port}` });
    this.link.listen((frame) => this.received(frame));
    this.renewIfDue();
  }

  private renewIfDue(): void {
    if (this.renewing || !(Date.now() >= this.renewAfter)) return;
    this.renewing = true;
    void this.link.send({ type: 'renew' });
  }

  private received({ message, payload }: Frame): void {
    switch (message.type) {
      case 'ping':
        void this.link.send({ type: 'pong' });
        this.renewIfDue();
        return;
      case 'task':
        this.start(message);
        return;
      case 'block':
        this.tasks.get(message.task)?.block(message, payload);
        return;
      case 'end':
        this.tasks.get(message.task)?.end();
        return;
      case 'cancel':
        this.tasks.get(message.task)?.cancel();
        return;
      case 'certificate':
        void this.renewed(message);
        return;
      case 'refused':
        this.refusal = new EngineRefused(message.code, message.message);
        this.link.close(`refused: ${message.message}`);
        return;
      default:
        this.link.close(`the engine sent ${message.type}, which only a mover sends or only a join receives`);
    }
  }

  private start(task: MessageOf<'task'>): void {
    const { views, options, tuning, emit } = this.deps;
    const refuse = (code: ErrorCode, message: string): void => {
      void this.link.send({ type: 'failed', task: task.task, code, message });
      emit({ event: 'task-failed', task: task.task, code, message });
    };
    const view = views.get(task.datastore);
    // A task holds its slot until it has said done or failed (as the engine counts), not until its file is closed.
    const busy = [...this.tasks.values()].filter((running) => !running.reported());
    if (this.tasks.get(task.task)?.reported() === false) return refuse('conflict', `task ${task.task} is running already`);
    if (busy.length >= options.slots) return refuse('unavailable', `all ${options.slots} task slots of this mover are busy`);
    if (!view) return refuse('not-found', `this mover has no view of datastore ${task.datastore}`);
    const running = new DiskTask(task, view, (message) => this.link.send(message), tuning, emit);
    this.tasks.set(task.task, running);
    emit({
      event: 'task-started',
      task: task.task,
      disk: task.disk,
      datastore: task.datastore,
      path: task.path,
      resumeFrom: task.resumeFrom,
    });
    void running.finished.then(() => {
      if (this.tasks.get(task.task) === running) this.tasks.delete(task.task);
    });
  }

  /** A renewed certificate: kept for the next connection once it is checked to be ours, under our CA. */
  private async renewed(message: MessageOf<'certificate'>): Promise<void> {
    const { identity, state } = this.deps;
    try {
      const certificate = new X509Certificate(message.certificatePem);
      const ours = createPublicKey(identity.keyPem).export({ type: 'spki', format: 'der' });
      if (
        !certificate.verify(new X509Certificate(identity.caPem).publicKey) ||
        !certificate.publicKey.export({ type: 'spki', format: 'der' }).equals(ours)
      )
        throw new LifeboatError('forbidden', 'the renewed certificate is not for this mover under its CA');
      await state.storeCertificate(message.certificatePem);
      this.renewAfter = Date.parse(message.renewAfter);
    } catch (error) {
      this.link.close(`renewal failed: ${toWireError(error).message}`);
    } finally {
      this.renewing = false;
    }
  }

  /** Runs until the link ends; the tasks are abandoned and their files closed before it returns. */
  async until(): Promise<string> {
    const reason = await this.link.closed;
    for (const task of this.tasks.values()) task.abandon();
    await Promise.all([...this.tasks.values()].map((task) => task.finished));
    return reason;
  }

  refused(): EngineRefused | null {
    return this.refusal;
  }
}

export async function runSession(deps: SessionDeps): Promise<SessionEnd> {
  const { options, identity, tuning, stop } = deps;
  if (stop.aborted) return { kind: 'stopped' };
  let link: EngineLink;
  try {
    const socket = await openTls(
      {
        host: options.engine.host,
        port: options.engine.port,
        key: identity.keyPem,
        cert: identity.certificatePem,
        ca: [identity.caPem],
        checkServerIdentity: () => undefined,
      },
      tuning.silenceMs,
      stop,
    );
    link = new EngineLink(socket, tuning.silenceMs);
  } catch (error) {
    return stop.aborted ? { kind: 'stopped' } : { kind: 'lost', reason: toWireError(error).message, welcomed: false };
  }
  const onStop = (): void => link.close('stopped');
  stop.addEventListener('abort', onStop, { once: true });
  const session = new Session(deps, link);
  let welcomed = false;
  let refusal: EngineRefused | null = null;
  try {
    await session.greet();
    welcomed = true;
  } catch (error) {
    if (error instanceof EngineRefused) refusal = error;
    link.close(toWireError(error).message);
  }
  const reason = await session.until();
  stop.removeEventListener('abort', onStop);
  refusal ??= session.refused();
  if (refusal) return { kind: 'refused', code: refusal.code, message: refusal.message };
  return stop.aborted ? { kind: 'stopped' } : { kind: 'lost', reason, welcomed };
}
