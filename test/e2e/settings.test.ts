// The Settings view's catalog card, in Debian's Chromium against a real `lifeboat serve` and a
// real PostgreSQL started here: the home's SQLite catalog shown; a URL that is not PostgreSQL
// refused with the engine's sentence; a move to an empty database asked for (shown without its
// password, kept for the next start) and withdrawn. axe finds nothing in light or dark.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { axeViolations } from '../helpers/console-browser.ts';
import { startConsole } from '../helpers/console-session.ts';
import { freshPostgresDatabase, postgresForThisFile } from '../helpers/catalog-backends.ts';

const { skip } = postgresForThisFile();

test(
  'the catalog card shows the SQLite catalog, refuses a URL that is not PostgreSQL, asks for a move and withdraws it',
  { skip },
  async () => {
    const session = await startConsole({ vms: 0 });
    after(() => session.stop());
    const { page } = session;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Settings', exact: true }).click();
    const card = page.getByRole('region', { name: 'Catalog' });
    await card.getByText('SQLite, in the home').waitFor();
    await card.getByText(join(session.home, 'catalog.sqlite')).waitFor();

    const form = card.getByRole('form', { name: 'Move the catalog to PostgreSQL' });
    await form.getByLabel('PostgreSQL URL').fill('mysql://db.example/lifeboat');
    await form.getByRole('button', { name: 'Move at next start' }).click();
    await form.getByRole('alert').filter({ hasText: 'postgresql:// URL' }).waitFor();
    assert.equal(existsSync(join(session.home, 'catalog.move-to')), false);

    const url = (await freshPostgresDatabase()).replace('postgresql://postgres@', 'postgresql://postgres:s3cret@');
    await form.getByLabel('PostgreSQL URL').fill(url);
    await form.getByRole('button', { name: 'Move at next start' }).click();
    const asked = card.getByText(/The catalog moves to postgresql:\/\/postgres@127\.0\.0\.1:\d+\/\w+ at the engine's next start$/);
    await asked.waitFor();
    assert.equal(await card.getByText(/s3cret/).count(), 0, 'the password is never shown');
    assert.ok(existsSync(join(session.home, 'catalog.move-to')), 'kept in the home for the next start');
    const report: string[] = [];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      report.push(...(await axeViolations(page, `${scheme} settings with a move asked for`)));
    }
    assert.deepEqual(report, []);

    await card.getByRole('button', { name: 'Withdraw the move' }).click();
    await form.getByLabel('PostgreSQL URL').waitFor();
    assert.equal(existsSync(join(session.home, 'catalog.move-to')), false);
    assert.deepEqual(session.errors, []);
  },
);
