// A mover peer in a process of its own (so a test can kill -9 it): the CA of PKI_DIR, port 0;
// it answers every join and hello as the engine does and pings every 300 ms. It prints its port.
import { setInterval } from 'node:timers';
import { MoverPeer, Pki } from './mover-peer.ts';

const [pkiDir = ''] = process.argv.slice(2);
const peer = await MoverPeer.listen(await Pki.load(pkiDir));
console.log(JSON.stringify({ port: peer.port }));
for (;;) {
  const connection = await peer.connection(24 * 3_600_000);
  void (async () => {
    if (!connection.certificate) return peer.acceptJoin(connection);
    await connection.welcome();
    const pings = setInterval(() => connection.send({ type: 'ping' }), 300);
    await connection.closed;
    clearInterval(pings);
  })().catch(() => undefined);
}
