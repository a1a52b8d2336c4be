// `npm start`: the console on this home. The Electron app when its binary is installed;
// otherwise (no download possible, as on an offline build machine) `lifeboat serve` in a
// browser, where a demo lab is made on first start so there is something to restore (the app
// makes none: its empty inventory says how, `lifeboat lab create`).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAll } from './build.ts';
import { openServedEngine } from '../electron/rpc/open-served-engine.ts';
import { createLab } from '../electron/lab/create-lab.ts';
import { inProcessApi } from '../electron/cli/connect.ts';
import { resolveHome } from '../electron/home.ts';
import { osCaller } from '../electron/auth/peer.ts';
import { AccountName } from '../shared/accounts.ts';
import { randomBytes } from 'node:crypto';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await buildAll();

/** The installed Electron binary, found the way the electron package finds it, but without
 * requiring the package: requiring it starts a download when the binary is missing. */
function electronBinary(): string | null {
  try {
    const packageDir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
    const pathFile = join(packageDir, 'path.txt');
    const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8') : 'electron';
    const dist = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? join(packageDir, 'dist');
    const binary = join(dist, relative);
    return existsSync(binary) ? binary : null;
  } catch {
    return null;
  }
}

const electron = electronBinary();
if (electron) {
  spawnSync(electron, [root], { stdio: 'inherit' });
} else {
  const home = resolveHome();
  const engine = await openServedEngine({ home });
  if (engine.catalog.listVms().length === 0) {
    console.log('first start: making a demo lab (3 VMs, 3 restore points each)…');
    await createLab(inProcessApi(engine), engine.paths.lab, { vms: 3, points: 3, diskMib: 64 }, (line) => console.log(`  ${line}`));
  }
  // The browser console signs in with an account: on a first start, one for this OS user, its
  // password shown once here (on the engine's own user's terminal).
  if (engine.auth.listAccounts().length === 0 && engine.auth.directory() === null) {
    const caller = osCaller();
    const name = AccountName.safeParse(caller.account).success ? caller.account : 'admin';
    const password = randomBytes(15).toString('base64url');
    await engine.auth.addAccount(name, 'administrator', password, caller);
    console.log(
      `first start: the console signs in as ${name} with password ${password}\n  (change it: lifeboat accounts set-password ${name} --password-env VAR)`,
    );
  }
  await engine.close();
  console.log('No Electron binary is installed (its download is not reachable here); serving the console to a browser instead.');
  const child = spawn(process.execPath, [join(root, 'electron', 'cli', 'main.ts'), '--home', home, 'serve'], { stdio: 'inherit' });
  const stop = (): void => void child.kill('SIGTERM');
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  child.once('exit', (code) => process.exit(code ?? 0));
}
