// The guests of the mass Instant Recovery bench, in a process of their own (the engine's event
// loop does not run them), each an in-process NFS v3 client on its own TCP connection
// (scripts/peers/nfs-client.ts): MNT of the export, LOOKUP of the VM folder and the flat disk,
// then READs of 1 MiB from offset 0 — what a hypervisor does at power-on, with no process per
// guest (100 client processes starting at once would measure process start-up, not the engine).
// Reads lines `{"id","host","port","exportPath","names","bytes"}` on stdin; for each, a line
// `{"id","askedAt","connectedAt","openedAt","firstMibAt"}` (ms since the epoch; see Marks) goes to
// stdout once `bytes` were read, or `{"id","error"}`.
import { createInterface } from 'node:readline';
import { connectNfs } from '../scripts/peers/nfs-client.ts';

const MIB = 1024 * 1024;
const now = (): number => performance.timeOrigin + performance.now();

type Ask = { id: string; host: string; port: number; exportPath: string; names: string[]; bytes: number };

/** When (ms since the epoch) the ask came, the connection was up, the MNT and both LOOKUPs were
 * answered and the first 1 MiB READ was answered. */
type Marks = { askedAt: number; connectedAt: number; openedAt: number; firstMibAt: number };

async function boot(ask: Ask): Promise<Marks> {
  const askedAt = now();
  const client = await connectNfs(ask.host, ask.port);
  const connectedAt = now();
  try {
    const disk = await client.open(ask.exportPath, ask.names);
    const openedAt = now();
    let firstMibAt = NaN;
    for (let offset = 0; offset < ask.bytes; offset += MIB) {
      const data = await client.read(disk, offset, MIB);
      if (data.length === 0) throw new Error(`the disk ended at ${offset} bytes`);
      if (offset === 0) firstMibAt = now();
    }
    return { askedAt, connectedAt, openedAt, firstMibAt };
  } finally {
    client.close();
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  const ask = JSON.parse(line) as Ask;
  boot(ask).then(
    (marks) => process.stdout.write(`${JSON.stringify({ id: ask.id, ...marks })}\n`),
    (error: unknown) => process.stdout.write(`${JSON.stringify({ id: ask.id, error: `${ask.exportPath}: ${String(error)}` })}\n`),
  );
}
