// A loopback TCP proxy between the iSCSI initiator and tgtd that can fail the way networks do:
// cut every open connection once some bytes have come back from the target (mid Data-In), or hold
// the target's bytes back on the open connections (a stalled path) until resumed or cut. New
// connections pass normally, so the initiator's reconnect reaches the target.
import { connect, createServer, type Socket } from 'node:net';
import { after } from 'node:test';

export type IscsiProxy = {
  port: number;
  /** Bytes sent initiator → target and target → initiator so far. */
  readonly upstream: number;
  readonly downstream: number;
  /** Connections accepted so far (a reconnect makes one more). */
  readonly connections: number;
  /** Cuts the open connections once `bytes` more have come from the target. */
  cutAfterDownstream(bytes: number): void;
  /** Holds the target's bytes back on the open connections. */
  stall(): void;
  /** Lets the held bytes through, and what follows. */
  resume(): void;
  /** Ends every open connection now. */
  cut(): void;
};

export async function startIscsiProxy(targetPort: number): Promise<IscsiProxy> {
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  let upstream = 0;
  let downstream = 0;
  let connections = 0;
  let cutAt = Number.POSITIVE_INFINITY;
  const held = new Map<Socket, Buffer[]>();
  const cut = (): void => {
    held.clear();
    cutAt = Number.POSITIVE_INFINITY;
    for (const socket of sockets) socket.destroy();
  };
  const server = createServer((client) => {
    connections += 1;
    clients.add(client);
    client.once('close', () => clients.delete(client));
    const target = connect(targetPort, '127.0.0.1');
    for (const socket of [client, target]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => {
      upstream += chunk.length;
      target.write(chunk);
    });
    target.on('data', (chunk: Buffer) => {
      const holding = held.get(client);
      if (holding) {
        holding.push(chunk);
        return;
      }
      downstream += chunk.length;
      if (downstream >= cutAt) {
        client.write(chunk.subarray(0, Math.max(0, chunk.length - (downstream - cutAt))));
        cut();
        return;
      }
      client.write(chunk);
    });
    client.once('close', () => target.destroy());
    target.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(async () => {
    cut();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    get upstream() {
      return upstream;
    },
    get downstream() {
      return downstream;
    },
    get connections() {
      return connections;
    },
    cutAfterDownstream: (bytes) => {
      cutAt = downstream + bytes;
    },
    stall: () => {
      for (const client of clients) held.set(client, []);
    },
    resume: () => {
      for (const [client, chunks] of held) for (const chunk of chunks) client.write(chunk);
      held.clear();
    },
    cut,
  };
}
