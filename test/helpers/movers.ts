// Real `lifeboat mover` processes for tests (scripts/peers/mover.ts), every one stopped after the
// test file.
import { generateKeyPairSync } from 'node:crypto';
import { after } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { encodeFrame, FrameDecoder, type MessageOf, type MoverMessage } from '../../electron/movers/protocol.ts';
import { MoverProcess, type MoverStart } from '../../scripts/peers/mover.ts';

export { MoverProcess, type MoverEvent, type MoverStart } from '../../scripts/peers/mover.ts';

const running = new Set<Pick<MoverProcess, 'stop'>>();
after(async () => {
  for (const mover of running) await mover.stop();
});

export function startMover(start: MoverStart): MoverProcess {
  const mover = new MoverProcess(start);
  running.add(mover);
  return mover;
}

/** A mover written here, speaking the protocol by hand: it joins over the port (a token from
 * `enrollment`), connects with its certificate, says hello, and hands each `task` to `onTask`
 * with a way to answer. For a mover that lies or breaks the protocol. Closed after the file. */
export async function handMadeMover(
  port: number,
  token: string,
  hello: MessageOf<'hello'>,
  onTask: (task: MessageOf<'task'>, send: (message: MoverMessage) => void) => void,
): Promise<{ closed: Promise<void>; socket: TLSSocket }> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const joined = await new Promise<MessageOf<'joined'>>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      for (const part of encodeFrame({ type: 'join', token, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }))
        socket.write(part);
    });
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      const [frame] = decoder.push(chunk);
      if (frame?.message.type === 'joined') resolve(frame.message);
      else if (frame) reject(new Error(`join answered ${JSON.stringify(frame.message)}`));
    });
    socket.once('error', reject);
  });
  const socket = connect({ host: '127.0.0.1', port, key, cert: joined.certificatePem, rejectUnauthorized: false });
  running.add({ stop: async () => void socket.destroy() });
  const send = (message: MoverMessage): void => {
    for (const part of encodeFrame(message)) socket.write(part);
  };
  const decoder = new FrameDecoder();
  socket.on('secureConnect', () => send(hello));
  socket.on('data', (chunk: Buffer) => {
    for (const { message } of decoder.push(chunk)) {
      if (message.type === 'ping') send({ type: 'pong' });
      if (message.type === 'task') onTask(message, send);
    }
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('data', () => resolve());
    socket.once('close', () => reject(new Error('the engine closed the hand-made mover')));
  });
  return { closed, socket };
}
