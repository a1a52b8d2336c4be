// A TCP proxy on loopback that cuts every connection once a number of bytes has gone through it
// towards the service, and refuses new ones until healed: a network that fails mid-transfer.
import { connect, createServer, type Socket } from 'node:net';
import { after } from 'node:test';

export type CuttingProxy = { port: number; cutAfter(bytes: number): void; heal(): void; get cut(): boolean };

export async function startCuttingProxy(targetPort: number): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  let limit = Number.POSITIVE_INFINITY;
  let passed = 0;
  let down = false;
  const cutAll = (): void => {
    down = true;
    for (const socket of sockets) socket.destroy();
  };
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => {
      passed += chunk.length;
      if (passed > limit) cutAll();
      else upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(async () => {
    cutAll();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    cutAfter: (bytes) => {
      passed = 0;
      limit = bytes;
    },
    heal: () => {
      down = false;
      limit = Number.POSITIVE_INFINITY;
    },
    get cut() {
      return down;
    },
  };
}
