// One TCP connection to an iSCSI portal: PDUs out, PDUs in (in arrival order, pulled with
// receive()), and one error once it ends. Login, discovery and the session all read it the same way.
import { connect, type Socket } from 'node:net';
import { LifeboatError } from '../../../errors.ts';
import { encodePdu, NO_DIGESTS, PduDecoder, SESSION_MAX_SEGMENT, type Digests, type Pdu } from './pdu.ts';

type Waiter = { resolve: (pdu: Pdu) => void; reject: (error: Error) => void };

export class IscsiConnection {
  readonly peer: string;
  #socket: Socket;
  #decoder = new PduDecoder(SESSION_MAX_SEGMENT);
  #received: Pdu[] = [];
  #waiters: Waiter[] = [];
  #ended: LifeboatError | null = null;
  #digests: Digests = NO_DIGESTS;

  private constructor(socket: Socket, peer: string) {
    this.#socket = socket;
    this.peer = peer;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      let pdus: Pdu[];
      try {
        pdus = this.#decoder.push(chunk);
      } catch (error) {
        this.#end(error instanceof LifeboatError ? error : new LifeboatError('unavailable', `${peer}: ${String(error)}`));
        return;
      }
      for (const pdu of pdus) {
        const waiter = this.#waiters.shift();
        if (waiter) waiter.resolve(pdu);
        else this.#received.push(pdu);
      }
    });
    socket.on('error', (error) =>
      this.#end(new LifeboatError('unavailable', `${peer}: the connection failed: ${error.message}`, { cause: error })),
    );
    socket.on('close', () => this.#end(new LifeboatError('unavailable', `${peer}: the target closed the connection`)));
  }

  static open(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<IscsiConnection> {
    const peer = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(new LifeboatError('cancelled', `${peer}: the connection was cancelled`));
        return;
      }
      const socket = connect({ host, port });
      const fail = (error: LifeboatError): void => {
        cleanup();
        socket.destroy();
        reject(error);
      };
      const onError = (error: Error): void =>
        fail(new LifeboatError('unavailable', `${peer}: cannot connect to the iSCSI target: ${error.message}`, { cause: error }));
      const onAbort = (): void => fail(new LifeboatError('cancelled', `${peer}: the connection was cancelled`));
      const timer = setTimeout(
        () => fail(new LifeboatError('unavailable', `${peer}: the iSCSI target did not accept a connection within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.off('error', onError);
        signal?.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        cleanup();
        resolve(new IscsiConnection(socket, peer));
      });
    });
  }

  get ended(): LifeboatError | null {
    return this.#ended;
  }

  /** From the next PDU on, both ways (called once the login has settled them). */
  useDigests(digests: Digests): void {
    this.#digests = digests;
    this.#decoder.digests = digests;
  }

  /** Queues the PDU's bytes; a write on a closed connection is dropped (the reader reports the end). */
  send(bhs: Buffer, data?: Uint8Array): void {
    if (this.#ended) return;
    // Corked until the current tick ends: a burst of Data-Out PDUs leaves in few writev calls.
    this.#socket.cork();
    for (const part of encodePdu(bhs, data, this.#digests)) this.#socket.write(part);
    process.nextTick(() => this.#socket.uncork());
  }

  /** The next PDU; rejects when the connection ends, or after timeoutMs. */
  receive(timeoutMs?: number): Promise<Pdu> {
    const next = this.#received.shift();
    if (next) return Promise.resolve(next);
    if (this.#ended) return Promise.reject(this.#ended);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      if (timeoutMs !== undefined) {
        const timer = setTimeout(() => {
          this.#waiters = this.#waiters.filter((other) => other !== waiter);
          reject(new LifeboatError('unavailable', `${this.peer}: the iSCSI target did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
        waiter.resolve = (pdu) => {
          clearTimeout(timer);
          resolve(pdu);
        };
        waiter.reject = (error) => {
          clearTimeout(timer);
          reject(error);
        };
      }
      this.#waiters.push(waiter);
    });
  }

  /** Ends the connection now; pending and later receive() calls reject with `reason`. */
  destroy(reason?: LifeboatError): void {
    this.#end(reason ?? new LifeboatError('unavailable', `${this.peer}: the connection was closed`));
    this.#socket.destroy();
  }

  /** Waits (bounded) for the target to close after a logout, then makes sure the socket is gone. */
  async closeGracefully(timeoutMs: number): Promise<void> {
    if (!this.#ended) {
      this.#socket.end();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.destroy();
  }

  #end(error: LifeboatError): void {
    if (this.#ended) return;
    this.#ended = error;
    this.#socket.destroy();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }
}
