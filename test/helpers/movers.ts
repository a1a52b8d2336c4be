// Real `lifeboat mover` processes for tests (scripts/peers/mover.ts), every one stopped after the
// test file.
import { after } from 'node:test';
import { MoverProcess, type MoverStart } from '../../scripts/peers/mover.ts';

export { MoverProcess, type MoverEvent, type MoverStart } from '../../scripts/peers/mover.ts';

const running = new Set<MoverProcess>();
after(async () => {
  for (const mover of running) await mover.stop();
});

export function startMover(start: MoverStart): MoverProcess {
  const mover = new MoverProcess(start);
  running.add(mover);
  return mover;
}
