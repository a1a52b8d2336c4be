// A test's own HTTP server on 127.0.0.1: a free port, and closed with its connections after the
// test file, whatever the tests did.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';

/** Starts `server` listening; returns its port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}
