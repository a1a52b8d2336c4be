// The browser the console's end-to-end tests drive (Debian's Chromium, headless) and the
// accessibility check they run on each view (axe-core, WCAG 2 A and AA).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type LaunchOptions, type Page } from 'playwright';

/** Launches Chromium without what would reach beyond loopback (sync, updates, QUIC). */
export function launchChromium(options: Omit<LaunchOptions, 'executablePath'> = {}): Promise<Browser> {
  return chromium.launch({
    ...options,
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--headless',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(options.args ?? []),
    ],
  });
}

/** axe's WCAG 2 A and AA violations on the page as it is, each named after `what`. */
export async function axeViolations(page: Page, what: string): Promise<string[]> {
  const axeSource = await readFile(join(import.meta.dirname, '..', '..', 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  // Through the debugging protocol, not a <script> tag, so the console keeps its strict CSP.
  await page.evaluate(axeSource);
  const run = async (): Promise<{ passes: number; violations: string[] }> => {
    // Colours read halfway through a transition (a theme switch, a notice fading in) are neither
    // theme's: axe looks once the page has come to rest.
    await page.evaluate(`Promise.all(document.getAnimations().map((animation) => animation.finished.catch(() => undefined)))`);
    return (await page.evaluate(
      `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] } }).then((result) => ({ passes: result.passes.length, violations: result.violations.map((v) => v.id + ': ' + v.nodes.length + ' node(s), e.g. ' + v.nodes[0].html.slice(0, 120)) }))`,
    )) as { passes: number; violations: string[] };
  };
  // A second look when the first finds something: what is really wrong is still there; a page
  // caught while a notice arrived or a list re-rendered is not.
  let result = await run();
  if (result.violations.length > 0) {
    await page.waitForTimeout(500);
    result = await run();
  }
  assert.ok(result.passes > 5, `axe ran on ${what} (${result.passes} rules passed)`);
  return result.violations.map((violation) => `${what}: ${violation}`);
}

/** What the page complains of, as it happens: its uncaught errors, console errors, any policy it
 * cannot parse and any request answered 4xx or 5xx (the list a test expects to stay empty). */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' || /Content Security Policy/i.test(message.text())) errors.push(message.text());
  });
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`${response.status()} ${response.url()}`);
  });
  return errors;
}
