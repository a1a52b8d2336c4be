// A loopback iSCSI target that replays what tgt sent (test/helpers/iscsi-captured.ts): its login
// answers, then whatever the test chooses for each SCSI command (a recorded answer, damaged or not,
// with the command's ITT). Task management is answered "done"; a logout is answered and the
// connection closed. The test may also push PDUs of its own (an async message) to the open
// connections. For fuzzing the session and for what tgt cannot be made to send.
import { createServer, type Socket } from 'node:net';
import { after } from 'node:test';
import { newBhs, Opcode, opcodeOf, PduDecoder } from '../../electron/drivers/scsi/iscsi/pdu.ts';
import { TGT_PDUS } from './iscsi-captured.ts';

export const hex = (text: string): Buffer => Buffer.from(text, 'hex');

export type ReplayTarget = {
  port: number;
  targetName: string;
  /** The answer the next SCSI command gets; by default none (it times out). */
  answer: (itt: number) => Buffer;
  /** What each login request gets (0: security stage, 1: operational): tgt's recorded answers by default. */
  loginAnswer: (step: number, recorded: Buffer) => Buffer;
  /** Sends bytes to every open connection. */
  push(bytes: Buffer): void;
  readonly logins: number;
  readonly logouts: number;
};

export function withItt(pdu: Buffer, itt: number): Buffer {
  const copy = Buffer.from(pdu);
  copy.writeUInt32BE(itt, 16);
  return copy;
}

export async function startReplayTarget(): Promise<ReplayTarget> {
  const [securityAnswer, operationalAnswer] = TGT_PDUS.loginResponse!.slice(2).map(hex) as [Buffer, Buffer];
  const logoutAnswer = hex(TGT_PDUS.logoutResponse![0]!);
  const sockets = new Set<Socket>();
  let logins = 0;
  let logouts = 0;
  const target: ReplayTarget = {
    port: 0,
    targetName: 'iqn.2026-12.org.lifeboat.test:library',
    answer: () => Buffer.alloc(0),
    loginAnswer: (_step, recorded) => recorded,
    push: (bytes) => {
      for (const socket of sockets) socket.write(bytes);
    },
    get logins() {
      return logins;
    },
    get logouts() {
      return logouts;
    },
  };
  const serve = (socket: Socket): void => {
    const decoder = new PduDecoder();
    let step = 0;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const pdu of decoder.push(chunk)) {
        const itt = pdu.bhs.readUInt32BE(16);
        switch (opcodeOf(pdu)) {
          case Opcode.loginRequest:
            if (step++ > 0) logins += 1;
            socket.write(target.loginAnswer(step - 1, step === 1 ? securityAnswer : operationalAnswer));
            break;
          case Opcode.scsiCommand:
            socket.write(target.answer(itt));
            break;
          case Opcode.taskManagement: {
            const answer = newBhs(Opcode.taskManagementResponse, 0x80);
            answer.writeUInt32BE(itt, 16);
            socket.write(answer);
            break;
          }
          case Opcode.logoutRequest:
            logouts += 1;
            socket.end(withItt(logoutAnswer, itt));
            break;
        }
      }
    });
  };
  const server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  target.port = (server.address() as { port: number }).port;
  return target;
}
