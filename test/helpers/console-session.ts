// A console as an operator opens it: a lab home (two VMs backed up), an administrator account,
// the real `lifeboat serve`, and Debian's Chromium signed in on the console's page. Call
// startConsole() at a test file's top level or in a test (startServe registers its after()).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright';
import { launchChromium, pageErrors } from './console-browser.ts';
import { tempDir } from './env.ts';
import { cli, startServe } from './serve-process.ts';

const run = promisify(execFile);

export const CONSOLE_USER = 'ann';
const CONSOLE_PASSWORD = 'ann-console-password';

export type ConsoleOptions = {
  /** Lab VMs to create and back up (0: an empty home). */
  vms?: number;
  /** Backup points per lab VM. */
  points?: number;
  /** Runs before `serve` starts (the engine is then not running): tape libraries, hosts... */
  prepare?: (lifeboat: ConsoleSession['lifeboat']) => Promise<void>;
};

export type ConsoleSession = {
  page: Page;
  browser: Browser;
  home: string;
  /** The console's URL as `serve` printed it (its one-time token already used by `page`). */
  url: string;
  /** Runs the CLI on the console's home (through the running engine once `serve` runs). */
  lifeboat(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** What the page complained of since it opened (console-browser.ts pageErrors). */
  errors: string[];
  /** Closes the browser and stops `serve`. */
  stop(): Promise<void>;
};

/** A signed-in console on the Home view. */
export async function startConsole(options: ConsoleOptions = {}): Promise<ConsoleSession> {
  const home = join(await tempDir(), 'home');
  const lifeboat = (...args: string[]) => run(process.execPath, [cli, '--home', home, ...args], { timeout: 120_000 });
  const vms = options.vms ?? 2;
  if (vms > 0) await lifeboat('lab', 'create', '--vms', String(vms), '--points', String(options.points ?? 2), '--disk-mib', '32');
  await run(
    process.execPath,
    [cli, '--home', home, 'accounts', 'add', CONSOLE_USER, '--role', 'administrator', '--password-env', 'LB_TEST_ANN'],
    {
      timeout: 120_000,
      env: { ...process.env, LB_TEST_ANN: CONSOLE_PASSWORD },
    },
  );
  await options.prepare?.(lifeboat);
  const serve = await startServe(home);
  const browser = await launchChromium();
  const stop = async (): Promise<void> => {
    await browser.close();
    await serve.stop();
  };
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const errors = pageErrors(page);
    await page.goto(serve.printed.url);
    await page.getByLabel('User').fill(CONSOLE_USER);
    await page.getByLabel('Password').fill(CONSOLE_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'What needs you', level: 2 }).waitFor();
    return { page, browser, home, url: serve.printed.url, lifeboat, errors, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
