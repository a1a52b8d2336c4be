// The engine's side of its data movers: it takes their connections from the mover listener (a
// join without a certificate, or a mover with the certificate the engine issued), keeps what each
// connected mover reaches and runs, offers them to restores as proxies, and carries a disk
// through one of them; when that mover dies or loses its connection mid-disk, the disk goes on,
// from the last checkpoint, on another mover that can take it (or one that comes back in time).
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { MoverTask, ProxySummary } from '../../shared/domain.ts';
import { LifeboatError } from '../errors.ts';
import { carryDisk, type CarrierPool, type DiskTaskRequest } from './disk-carrier.ts';
import type { MoverEnrollment, MoverRecord } from './enrollment.ts';
import { MoverConnection } from './mover-connection.ts';
import type { MoverLive, MoverLiveView } from './mover-handlers.ts';
import { MOVER_PROTOCOL, type Frame, type MessageOf } from './protocol.ts';
import { RateMeter } from './rate-meter.ts';

export { eligibleFor, moverRejoinMs, type DiskTaskRequest } from './disk-carrier.ts';

type Hello = MessageOf<'hello'>;
/** What the hub knows of one mover: its connection (once it said hello) and what it runs. */
type MoverState = {
  record: MoverRecord;
  connection: MoverConnection | null;
  hello: Hello | null;
  tasks: Map<string, MoverTask>;
  lastError: string | null;
  lastSeenAt: string | null;
  meter: RateMeter;
};

export class MoverHub implements MoverLiveView {
  private readonly enrollment: MoverEnrollment;
  private readonly now: () => Date;
  private readonly log: (line: string) => void;
  private readonly states = new Map<string, MoverState>();
  private readonly pending = new Set<MoverConnection>();
  private listenAddress: string | null = null;
  /** Woken when a mover connects, leaves or frees a slot (a waiting disk looks again). */
  private waiters = new Set<() => void>();

  constructor(deps: { enrollment: MoverEnrollment; now?: () => Date; log?: (line: string) => void }) {
    this.enrollment = deps.enrollment;
    this.now = deps.now ?? (() => new Date());
    this.log = deps.log ?? ((line) => process.stderr.write(`lifeboat: movers: ${line}\n`));
  }

  /** A connection from the mover listener: a join (no certificate), or a mover. */
  accept(socket: TLSSocket): void {
    const peer = socket.getPeerX509Certificate();
    const from = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    if (!peer) {
      this.acceptJoin(socket, from);
      return;
    }
    if (!socket.authorized) {
      this.refuse(socket, 'forbidden', `certificate not issued by this engine (${String(socket.authorizationError)})`, from);
      return;
    }
    let record: MoverRecord;
    try {
      record = this.enrollment.authorize(peer);
    } catch (error) {
      const code = error instanceof LifeboatError ? error.code : 'forbidden';
      this.refuse(socket, code, (error as Error).message, from);
      return;
    }
    this.acceptMover(socket, record, peer);
  }

  private refuse(socket: TLSSocket, code: MessageOf<'refused'>['code'], message: string, from: string): void {
    this.log(`refused a connection from ${from}: ${message}`);
    const connection = new MoverConnection(socket, { onFrame: () => undefined, onClosed: () => undefined }, { ping: false });
    connection.closeWith({ type: 'refused', code, message });
  }

  private acceptJoin(socket: TLSSocket, from: string): void {
    const connection: MoverConnection = new MoverConnection(
      socket,
      {
        onFrame: ({ message }) => {
          if (message.type !== 'join') {
            this.log(`refused a connection from ${from}: it sent ${message.type} without a certificate`);
            connection.closeWith({ type: 'refused', code: 'forbidden', message: 'a connection without a certificate may only join' });
            return;
          }
          try {
            const joined = this.enrollment.redeem(message.token, message.publicKeyPem);
            this.log(`mover ${joined.mover.name} joined from ${from}`);
            connection.closeWith({
              type: 'joined',
              moverName: joined.mover.name,
              certificatePem: joined.certificatePem,
              caPem: joined.caPem,
            });
          } catch (error) {
            const code = error instanceof LifeboatError ? error.code : 'forbidden';
            this.log(`refused a join from ${from}: ${(error as Error).message}`);
            connection.closeWith({ type: 'refused', code, message: (error as Error).message });
          }
        },
        onClosed: () => void this.pending.delete(connection),
      },
      { ping: false },
    );
    this.pending.add(connection);
  }

  private acceptMover(socket: TLSSocket, record: MoverRecord, peer: X509Certificate): void {
    const connection: MoverConnection = new MoverConnection(socket, {
      onFrame: (frame) => this.onMoverFrame(connection, record, peer, frame),
      onClosed: (reason) => this.onMoverClosed(connection, record, reason),
    });
    this.pending.add(connection);
  }

  private onMoverFrame(connection: MoverConnection, record: MoverRecord, peer: X509Certificate, { message }: Frame): void {
    switch (message.type) {
      case 'hello':
        this.onHello(connection, record, peer, message);
        return;
      case 'renew': {
        const publicKeyPem = peer.publicKey.export({ type: 'spki', format: 'pem' }).toString();
        try {
          const issued = this.enrollment.renew(record.id, publicKeyPem);
          connection.send({ type: 'certificate', ...issued });
          this.log(`mover ${record.name} renewed its certificate (expires ${issued.certificateExpiresAt})`);
        } catch (error) {
          // Removed meanwhile: the renewal is refused and the connection ends.
          const code = error instanceof LifeboatError ? error.code : 'forbidden';
          this.log(`refused mover ${record.name} a renewal: ${(error as Error).message}`);
          connection.closeWith({ type: 'refused', code, message: (error as Error).message });
        }
        return;
      }
      case 'pong':
        return;
      default:
        connection.lose(`protocol error: a mover does not send ${message.type} here`);
    }
  }

  private onHello(connection: MoverConnection, accepted: MoverRecord, peer: X509Certificate, hello: Hello): void {
    // Asked again now, not as of the handshake: a connection held open without a hello must not
    // outlive its mover's removal or a renewal that superseded its certificate.
    let record: MoverRecord;
    try {
      record = this.enrollment.authorize(peer);
    } catch (error) {
      const code = error instanceof LifeboatError ? error.code : 'forbidden';
      this.log(`refused mover ${accepted.name} at its hello: ${(error as Error).message}`);
      connection.closeWith({ type: 'refused', code, message: (error as Error).message });
      return;
    }
    if (hello.protocol !== MOVER_PROTOCOL) {
      const message = `this engine speaks mover protocol ${MOVER_PROTOCOL}, the mover ${hello.protocol}: install the same Lifeboat version on both`;
      this.log(`refused mover ${record.name}: ${message}`);
      connection.closeWith({ type: 'refused', code: 'bad-request', message });
      return;
    }
    this.pending.delete(connection);
    const state = this.stateOf(record);
    // A mover that reconnects before its old connection timed out: the old one is gone.
    if (state.connection && state.connection !== connection) state.connection.lose('replaced by a new connection of the same mover');
    state.record = record;
    state.connection = connection;
    state.hello = hello;
    state.lastSeenAt = this.now().toISOString();
    const validFrom = new Date(peer.validFrom).getTime();
    const validTo = new Date(peer.validTo).getTime();
    // The same policy the enrollment issues with: renew after two thirds of the validity.
    const renewAfter = new Date(validFrom + ((validTo - validFrom) * 2) / 3).toISOString();
    connection.send({ type: 'welcome', moverName: record.name, certificateExpiresAt: new Date(validTo).toISOString(), renewAfter });
    this.log(
      `mover ${record.name} connected: ${hello.transports.join(', ') || 'no transport'}; datastores ${Object.keys(hello.datastores).join(', ') || 'none'}; ${hello.slots} slot(s)`,
    );
    this.changed();
  }

  private onMoverClosed(connection: MoverConnection, record: MoverRecord, reason: string): void {
    this.pending.delete(connection);
    const state = this.states.get(record.id);
    if (!state || state.connection !== connection) return;
    state.connection = null;
    state.lastSeenAt = this.now().toISOString();
    state.lastError = `connection lost: ${reason}`;
    this.log(`mover ${record.name} disconnected: ${reason}`);
    this.changed();
  }

  private stateOf(record: MoverRecord): MoverState {
    let state = this.states.get(record.id);
    if (!state) {
      state = { record, connection: null, hello: null, tasks: new Map(), lastError: null, lastSeenAt: null, meter: new RateMeter() };
      this.states.set(record.id, state);
    }
    return state;
  }

  private changed(): void {
    const waiting = this.waiters;
    this.waiters = new Set();
    for (const wake of waiting) wake();
  }

  live(moverId: string): MoverLive | null {
    const state = this.states.get(moverId);
    return state ? this.liveOf(state) : null;
  }

  private liveOf(state: MoverState): MoverLive {
    return {
      transports: state.hello?.transports ?? [],
      datastores: state.hello?.datastores ?? {},
      slots: state.hello?.slots ?? 0,
      tasks: [...state.tasks.values()].map((task) => ({ ...task })),
      bytesPerSecond: state.meter.perSecond(),
      lastError: state.lastError,
      lastSeenAt: state.connection ? this.now().toISOString() : state.lastSeenAt,
      connected: state.connection !== null && !state.connection.lost,
    };
  }

  address(): string | null {
    return this.listenAddress;
  }

  setAddress(address: string | null): void {
    this.listenAddress = address;
  }

  onRemoved(moverId: string): void {
    const state = this.states.get(moverId);
    if (!state) return;
    state.record = { ...state.record, removed: true };
    state.connection?.lose(`mover ${state.record.name} was removed`);
  }

  /** The connected movers of a vSphere host, as the proxies a restore chooses from. */
  proxiesOf(host: string): ProxySummary[] {
    return [...this.states.values()].flatMap((state) => {
      const { record, hello } = state;
      if (record.host !== host || record.removed || !hello || !state.connection || hello.transports.length === 0) return [];
      return [
        {
          id: record.id,
          name: record.name,
          host: record.host,
          transports: hello.transports,
          proxyVm: record.proxyVm,
          datastorePaths: hello.datastores,
          maxTasks: hello.slots,
          createdAt: record.createdAt,
        },
      ];
    });
  }

  isMover(name: string): boolean {
    const found = this.enrollment.find(name);
    return found !== null && !found.removed;
  }

  /** Writes one disk through movers, from the one the transport decision chose; a lost mover's
   * disk continues from its last checkpoint on another (disk-carrier.ts). */
  writeDisk(request: DiskTaskRequest): Promise<{ bytes: number; carriedBy: string[] }> {
    return carryDisk(this.carriers, request);
  }

  /** The hub's movers as a disk's carrier chooses among them. */
  private readonly carriers: CarrierPool<MoverState> = {
    states: () => this.states.values(),
    liveOf: (state) => this.liveOf(state),
    changed: () => this.changed(),
    waitForChange: (ms, signal) =>
      new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', wake);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, ms);
        signal.addEventListener('abort', wake);
        this.waiters.add(wake);
      }),
  };

  /** Ends every connection (their tasks are lost; the engine is stopping). */
  async close(): Promise<void> {
    for (const connection of this.pending) connection.lose('the engine is stopping');
    for (const state of this.states.values()) state.connection?.lose('the engine is stopping');
    this.pending.clear();
    this.changed();
  }
}
