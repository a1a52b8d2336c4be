// The engine's mover port: TLS with the listener certificate the engine's own CA issued. A client
// certificate is asked for but not required at the handshake, because a mover that joins has none
// yet; the hub decides per connection (a join, a foreign certificate refused, or a mover).
import { createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Engine } from '../engine/engine.ts';
import { LifeboatError } from '../errors.ts';

export type MoverListener = { address: string; port: number; close(): Promise<void> };

/** "HOST:PORT" or "[IPv6]:PORT" (port 0: any free one). */
export function parseMoverAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (!match || port > 65535)
    throw new LifeboatError('bad-request', `--movers takes HOST:PORT (such as 0.0.0.0:7421 or [::]:7421), not "${text}"`);
  return { host: (match[1] ?? match[2]) as string, port };
}

export async function listenForMovers(engine: Engine, where: { host: string; port: number }): Promise<MoverListener> {
  const { key, cert, ca } = engine.enrollment.serverTls();
  const sockets = new Set<TLSSocket>();
  const server = createServer({ key, cert, ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    engine.movers.accept(socket);
  });
  // A handshake that fails (a client that speaks no TLS) ends only that connection.
  server.on('tlsClientError', (error, socket) => {
    socket.destroy();
    process.stderr.write(`lifeboat: movers: a TLS handshake failed: ${error.message}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where.port, where.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = where.host.includes(':') ? `[${where.host}]` : where.host;
  const address = `${host}:${port}`;
  engine.movers.setAddress(address);
  return {
    address,
    port,
    close: async () => {
      engine.movers.setAddress(null);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
