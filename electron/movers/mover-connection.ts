// One mover's TLS connection as the engine holds it: frames in (checked by the protocol's
// decoder), frames out with the socket's back-pressure, a ping every few seconds and "lost" after
// a silence, and the task streams that listen for their messages on it.
import type { TLSSocket } from 'node:tls';
import { encodeFrame, FrameDecoder, type Frame, type MessageOf, type MoverMessage } from './protocol.ts';

/** How long a mover may stay silent before its connection counts as lost. */
export function moverTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.LIFEBOAT_MOVER_TIMEOUT_MS ?? '15000');
  return Number.isFinite(value) && value > 0 ? value : 15_000;
}
const PING_EVERY_MS = 5_000;

export type TaskMessage = MessageOf<'checkpoint'> | MessageOf<'credit'> | MessageOf<'done'> | MessageOf<'failed'>;
/** A task stream's ears on the connection. */
export type TaskListener = { onMessage(message: TaskMessage): void; onLost(reason: string): void };

export class MoverConnection {
  readonly socket: TLSSocket;
  private readonly decoder = new FrameDecoder();
  private readonly listeners = new Map<string, TaskListener>();
  private lastHeard = Date.now();
  private readonly timer: NodeJS.Timeout;
  private lostReason: string | null = null;
  private readonly onFrame: (frame: Frame) => void;
  private readonly onClosed: (reason: string) => void;

  /** `onFrame` gets every frame that is not a task's; `onClosed` runs once when the connection ends.
   * Without `ping` (a join, a refusal) the peer is only timed out, never pinged. */
  constructor(
    socket: TLSSocket,
    handlers: { onFrame(frame: Frame): void; onClosed(reason: string): void },
    options: { ping: boolean } = { ping: true },
  ) {
    this.socket = socket;
    this.onFrame = handlers.onFrame;
    this.onClosed = handlers.onClosed;
    const timeout = moverTimeoutMs();
    this.timer = setInterval(
      () => {
        if (Date.now() - this.lastHeard > timeout) this.lose(`nothing heard for ${Math.round(timeout / 1000)} s`);
        else if (options.ping) this.send({ type: 'ping' });
      },
      Math.min(PING_EVERY_MS, Math.max(50, Math.floor(timeout / 3))),
    );
    this.timer.unref();
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.lose(`connection error: ${error.message}`));
    socket.on('close', () => this.lose('the connection closed'));
  }

  get lost(): boolean {
    return this.lostReason !== null;
  }

  /** Writes a frame; false when the socket's buffer is full (wait for drained()) or it is gone. */
  send(message: MoverMessage, payload?: Uint8Array): boolean {
    if (this.lost || this.socket.destroyed) return false;
    let room = true;
    this.socket.cork();
    for (const part of encodeFrame(message, payload)) room = this.socket.write(part) && room;
    this.socket.uncork();
    return room;
  }

  /** Resolves when the socket can take more, or when the connection is lost. */
  drained(): Promise<void> {
    if (this.lost || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  listen(task: string, listener: TaskListener): () => void {
    this.listeners.set(task, listener);
    if (this.lostReason !== null) listener.onLost(this.lostReason);
    return () => void this.listeners.delete(task);
  }

  /** Ends the connection: its tasks hear they are lost. */
  lose(reason: string): void {
    if (this.lostReason !== null) return;
    this.lostReason = reason;
    clearInterval(this.timer);
    this.socket.destroy();
    for (const listener of [...this.listeners.values()]) listener.onLost(reason);
    this.listeners.clear();
    this.onClosed(reason);
  }

  /** Sends `message` (a refusal) and closes once it is written. */
  closeWith(message: MoverMessage): void {
    this.send(message);
    this.socket.end();
  }

  private receive(chunk: Buffer): void {
    this.lastHeard = Date.now();
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.lose(`protocol error: ${(error as Error).message}`);
      return;
    }
    for (const frame of frames) {
      const { message } = frame;
      if (message.type === 'checkpoint' || message.type === 'credit' || message.type === 'done' || message.type === 'failed') {
        this.listeners.get(message.task)?.onMessage(message);
      } else this.onFrame(frame);
      if (this.lost) return;
    }
  }
}
