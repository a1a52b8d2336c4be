// One TLS connection to the engine, cut into protocol frames. It is lost when the socket ends,
// a frame is bad, or nothing is heard for `silenceMs` (the engine pings; a dead peer behind a
// live network path is found this way, not by TCP).
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { LifeboatError, type ErrorCode } from '../errors.ts';
import { encodeFrame, FrameDecoder, MoverProtocolError, type Frame, type MoverMessage } from '../movers/protocol.ts';

/** The engine said no (`refused`): forbidden means removed, revoked, foreign or a spent token, for good. */
export class EngineRefused extends LifeboatError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
  }
}

/** A TLS connection once its handshake is done (or the reason it could not be made, within
 * `timeoutMs` or before `stop`: a stop signal does not wait for an engine that does not answer). */
export function openTls(
  options: ConnectionOptions & { host: string; port: number },
  timeoutMs: number,
  stop: AbortSignal,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect(options);
    const settled = (): void => {
      clearTimeout(timer);
      stop.removeEventListener('abort', stopped);
    };
    const fail = (error: Error): void => {
      settled();
      socket.destroy();
      reject(new LifeboatError('unavailable', `the engine at ${options.host}:${options.port} cannot be reached: ${error.message}`));
    };
    const stopped = (): void => fail(new Error('stopped'));
    const timer = setTimeout(() => fail(new Error(`no TLS handshake within ${timeoutMs / 1000} s`)), timeoutMs);
    stop.addEventListener('abort', stopped, { once: true });
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      settled();
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

export class EngineLink {
  /** Why the connection ended; settles once. */
  readonly closed: Promise<string>;
  private readonly socket: TLSSocket;
  private readonly decoder = new FrameDecoder();
  private readonly silence: NodeJS.Timeout;
  private open = true;
  private settle: (reason: string) => void = () => undefined;
  /** Where frames go; null: they wait in `queued` (between an answer and the session's listener). */
  private onFrame: ((frame: Frame) => void) | null = null;
  private readonly queued: Frame[] = [];

  constructor(socket: TLSSocket, silenceMs: number) {
    this.socket = socket;
    this.closed = new Promise((resolve) => (this.settle = resolve));
    this.silence = setTimeout(() => this.close(`nothing heard from the engine for ${silenceMs / 1000} s`), silenceMs);
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('error', (error) => this.close(error.message));
    socket.on('close', () => this.close('the engine closed the connection'));
  }

  /** Frames go to `handler` in order from now on. */
  listen(handler: (frame: Frame) => void): void {
    this.onFrame = handler;
    while (this.open && this.onFrame === handler && this.queued.length > 0) handler(this.queued.shift() as Frame);
  }

  private received(chunk: Buffer): void {
    if (!this.open) return;
    this.silence.refresh();
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      if (!(error instanceof MoverProtocolError)) throw error;
      this.close(`the engine broke the protocol: ${error.message}`);
      return;
    }
    for (const frame of frames) {
      if (!this.open) return;
      if (this.onFrame) this.onFrame(frame);
      else this.queued.push(frame);
    }
  }

  /** Sends a message; resolves once its bytes are handed to the kernel (false: the link is gone). */
  send(message: MoverMessage): Promise<boolean> {
    if (!this.open || this.socket.destroyed) return Promise.resolve(false);
    // A mover's messages carry no payload: one small write each.
    const bytes = Buffer.concat(encodeFrame(message));
    return new Promise((resolve) => this.socket.write(bytes, (error) => resolve(!error)));
  }

  /** The next frame (the answer to `join` or `hello`), the ones after it kept for listen(); rejects if the link ends first. */
  next(): Promise<Frame> {
    return new Promise((resolve, reject) => {
      void this.closed.then((reason) => reject(new LifeboatError('unavailable', reason)));
      this.listen((frame) => {
        this.onFrame = null;
        resolve(frame);
      });
    });
  }

  close(reason: string): void {
    if (!this.open) return;
    this.open = false;
    clearTimeout(this.silence);
    this.socket.destroy();
    this.settle(reason);
  }
}
