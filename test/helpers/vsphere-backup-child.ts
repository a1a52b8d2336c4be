// Child process for crash tests: opens the engine of the home given, starts a backup of the VM
// given from the simulator's host "vc" over NBD and waits for it to end (LIFEBOAT_KILL_AT kills
// it at an exact place of that backup first).
import { openServedEngine } from '../../electron/rpc/open-served-engine.ts';

const [home = '', vm = ''] = process.argv.slice(2);
const engine = await openServedEngine({ home, workerThreads: 2 });
try {
  await engine.janitor;
  const job = await engine.backups.startFromVsphere({ host: 'vc', vm, transport: 'nbd', quiesce: false }, 'test');
  await engine.jobs.whenEnded(job.id);
} finally {
  await engine.close();
}
