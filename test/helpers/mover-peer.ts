// A small stand-in for the engine's mover port, for the protocol-level tests of `lifeboat mover`
// (test/helpers/movers.ts starts the movers): a TLS server with a CA made by openssl (the
// engine's CA and its leaf), which hands the test each connection to script with protocol.ts frames.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { formatJoinToken } from '../../electron/movers/join-token.ts';
import { encodeFrame, FrameDecoder, type Frame, type MessageOf, type MoverMessage } from '../../electron/movers/protocol.ts';

/** How long a test waits for anything from a mover before it fails. */
const WAIT_MS = 30_000;

const openssl = (cwd: string, ...args: string[]): string =>
  execFileSync('openssl', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** STEM.pem: a certificate named `name` for the public key in STEM.pub, signed by the CA of `dir`. */
async function signKey(dir: string, stem: string, name: string, extensions: string): Promise<void> {
  await writeFile(join(dir, `${stem}.ext`), extensions);
  const [key, ext, out] = [`${stem}.pub`, `${stem}.ext`, `${stem}.pem`];
  openssl(
    dir,
    'x509',
    '-new',
    '-force_pubkey',
    key,
    '-subj',
    `/CN=${name}`,
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    out,
  );
}

/** Resolves when the wake it arms is called, or after `ms`. */
function wakeOrTimeout(ms: number, arm: (wake: (() => void) | null) => void): Promise<void> {
  return new Promise((resolve) => {
    const wake = (): void => {
      clearTimeout(timer);
      arm(null);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    arm(wake);
  });
}

/** A CA, the engine's leaf under it, and certificates issued to movers' public keys. */
export class Pki {
  readonly dir: string;
  readonly caPem: string;
  readonly serverKey: string;
  /** The leaf, then the CA: what the engine's listener sends. */
  readonly serverChain: string;
  private constructor(dir: string, caPem: string, serverKey: string, serverChain: string) {
    this.dir = dir;
    this.caPem = caPem;
    this.serverKey = serverKey;
    this.serverChain = serverChain;
  }

  static async make(dir: string, name = 'test-engine'): Promise<Pki> {
    openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key');
    openssl(dir, 'req', '-x509', '-new', '-key', 'ca.key', '-subj', `/CN=${name} CA`, '-days', '2', '-out', 'ca.pem');
    openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'server.key');
    openssl(dir, 'pkey', '-in', 'server.key', '-pubout', '-out', 'server.pub');
    await signKey(dir, 'server', name, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    return Pki.load(dir);
  }

  /** The PKI `make` left in `dir` (another process's peer uses the same CA). */
  static async load(dir: string): Promise<Pki> {
    const read = (file: string): Promise<string> => readFile(join(dir, file), 'utf8');
    const caPem = await read('ca.pem');
    return new Pki(dir, caPem, await read('server.key'), (await read('server.pem')) + caPem);
  }

  caFingerprint(): string {
    return createHash('sha256').update(new X509Certificate(this.caPem).raw).digest('hex');
  }

  /** A join token as `movers add` makes it, pinning `fingerprint` (ours unless told). */
  token(fingerprint = this.caFingerprint()): string {
    return formatJoinToken({ moverId: randomUUID(), secret: randomBytes(32).toString('base64url'), caFingerprint: fingerprint });
  }

  /** A certificate for a mover's public key, signed by this CA, named `name`. */
  async issue(publicKeyPem: string, name: string): Promise<string> {
    const stem = `mover-${randomBytes(6).toString('hex')}`;
    await writeFile(join(this.dir, `${stem}.pub`), publicKeyPem);
    await signKey(this.dir, stem, name, 'extendedKeyUsage=clientAuth\n');
    return readFile(join(this.dir, `${stem}.pem`), 'utf8');
  }
}

/** One connection a mover opened, with its frames in order. */
export class PeerConnection {
  readonly socket: TLSSocket;
  /** The mover's certificate, if it sent one the CA signed. */
  readonly certificate: X509Certificate | null;
  readonly closed: Promise<void>;
  private readonly frames: Frame[] = [];
  private waiting: (() => void) | null = null;
  private ended = false;

  constructor(socket: TLSSocket, onFrame: (type: MoverMessage['type']) => void = () => undefined) {
    this.socket = socket;
    const peer = socket.getPeerX509Certificate();
    this.certificate = socket.authorized && peer ? peer : null;
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      const frames = decoder.push(chunk);
      for (const frame of frames) onFrame(frame.message.type);
      this.frames.push(...frames);
      this.waiting?.();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.ended = true;
        this.waiting?.();
        resolve();
      }),
    );
  }

  /** The next frame, whatever it is. */
  async take(within = WAIT_MS): Promise<Frame> {
    const deadline = Date.now() + within;
    for (;;) {
      const frame = this.frames.shift();
      if (frame) return frame;
      if (this.ended) throw new Error('the connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`nothing came within ${within / 1000} s`);
      await wakeOrTimeout(left, (armed) => (this.waiting = armed));
    }
  }

  /** The next frame of `type`; frames of other types before it (pongs, credits…) are dropped. */
  async next<T extends MoverMessage['type']>(type: T, within = WAIT_MS): Promise<{ message: MessageOf<T>; payload: Buffer }> {
    const deadline = Date.now() + within;
    const skipped: string[] = [];
    for (;;) {
      const frame = await this.take(deadline - Date.now()).catch((error: Error) => {
        throw new Error(`no ${type}: ${error.message} (seen: ${skipped.join(', ')})`);
      });
      if (frame.message.type === type) return { message: frame.message as MessageOf<T>, payload: frame.payload };
      skipped.push(frame.message.type === 'failed' ? `failed: ${frame.message.message}` : frame.message.type);
    }
  }

  isClosed(): boolean {
    return this.ended;
  }

  isEmpty(): boolean {
    return this.frames.length === 0;
  }

  send(message: MoverMessage, payload?: Uint8Array): void {
    for (const part of encodeFrame(message, payload)) this.socket.write(part);
  }

  /** Bytes as they are, for frames protocol.ts would not encode. */
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Takes `hello` and answers `welcome`. */
  async welcome(name = 'mover-1', renewAfter = new Date(Date.now() + 86_400_000)): Promise<MessageOf<'hello'>> {
    const { message } = await this.next('hello');
    this.send({
      type: 'welcome',
      moverName: name,
      certificateExpiresAt: new Date(Date.now() + 2 * 86_400_000).toISOString(),
      renewAfter: renewAfter.toISOString(),
    });
    return message;
  }
}

export class MoverPeer {
  readonly pki: Pki;
  readonly port: number;
  private readonly server: Server;
  private readonly accepted: PeerConnection[] = [];
  private readonly all: PeerConnection[] = [];
  /** The type of every frame any mover sent, in order. */
  readonly received: MoverMessage['type'][] = [];
  private waiting: (() => void) | null = null;

  private constructor(pki: Pki, server: Server, port: number) {
    this.pki = pki;
    this.server = server;
    this.port = port;
  }

  /** A peer on 127.0.0.1:`port` (0: any free one), closed after the test file. */
  static async listen(pki: Pki, port = 0): Promise<MoverPeer> {
    // Client certificates are asked for, not required: a joining mover has none yet.
    const server = createServer({
      key: pki.serverKey,
      cert: pki.serverChain,
      ca: [pki.caPem],
      requestCert: true,
      rejectUnauthorized: false,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const peer = new MoverPeer(pki, server, (server.address() as { port: number }).port);
    server.on('secureConnection', (socket: TLSSocket) => {
      const connection = new PeerConnection(socket, (type) => peer.received.push(type));
      peer.accepted.push(connection);
      peer.all.push(connection);
      peer.waiting?.();
    });
    after(() => peer.close());
    return peer;
  }

  /** The next connection a mover opens (and has not closed with nothing said: a refused join's). */
  async connection(within = WAIT_MS): Promise<PeerConnection> {
    const deadline = Date.now() + within;
    for (;;) {
      const connection = this.accepted.shift();
      if (connection && !(connection.isClosed() && connection.isEmpty())) return connection;
      if (connection) continue;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no mover connected within ${within / 1000} s`);
      await wakeOrTimeout(left, (armed) => (this.waiting = armed));
    }
  }

  /** Answers a join as the engine does: a certificate for the mover's key, and the CA. */
  async acceptJoin(connection: PeerConnection, name = 'mover-1'): Promise<MessageOf<'join'>> {
    const { message } = await connection.next('join');
    connection.send({
      type: 'joined',
      moverName: name,
      certificatePem: await this.pki.issue(message.publicKeyPem, name),
      caPem: this.pki.caPem,
    });
    return message;
  }

  async close(): Promise<void> {
    for (const connection of this.all) connection.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
