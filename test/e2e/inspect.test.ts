// Inspect: the attack surface of an appliance and its twin side by side, and the file tables'
// reasons (filter by reason, search by path). Screenshots at a desktop and a phone size.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../images/manifest.ts';
import { type Lab, openLab, pollFor, requireImage, screenshot, stopServer } from './harness.ts';

/** A traced appliance with a service: its manifest lists a listening socket and its files.json has reasons. */
const APPLIANCE = process.env.WHITTLE_INSPECT_IMAGE ?? 'lighttpd';

describe('inspect', () => {
  let lab: Lab;
  let app: Manifest;
  let twin: Manifest;

  beforeAll(async () => {
    app = await requireImage(APPLIANCE);
    twin = await requireImage('debian');
    lab = await openLab();
  });
  afterAll(async () => {
    await lab?.close();
    await stopServer();
  });

  it('shows the surface of the appliance and its twin side by side', async () => {
    const { page, url } = lab;
    expect(app.surface, `${APPLIANCE} was built before the surface was measured: rebuild it`).toBeDefined();
    expect(twin.surface, 'debian was built before the surface was measured: rebuild it').toBeDefined();
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${url}#/inspect/${APPLIANCE}?twin=debian`);
    const table = page.getByTestId('surface-table');
    await table.waitFor();
    expect(await table.locator('thead th').allInnerTexts()).toEqual(['', APPLIANCE, 'debian']);
    const cells = async (row: string) => (await table.locator(`tr[data-row="${row}"] td`).allInnerTexts()).map((t) => t.trim());
    const counts = async (row: string) => (await cells(row)).map((t) => t.split(/\s/)[0]);
    expect(await counts('setuid')).toEqual([String(app.surface!.setuid.length), String(twin.surface!.setuid.length)]);
    const logins = (m: Manifest) => String(m.surface!.loginAccounts.filter((a) => !a.shellMissing).length);
    expect(await counts('accounts')).toEqual([logins(app), logins(twin)]);
    expect(await counts('executables')).toEqual([app.surface!.executables, twin.surface!.executables].map((n) => n.toLocaleString('en-US')));
    // The twin's setuid programs, listed when opened.
    await table.locator('tr[data-row="setuid"] td').nth(1).locator('summary').click();
    expect(await table.locator('tr[data-row="setuid"] td').nth(1).locator('li').allInnerTexts()).toEqual(twin.surface!.setuid);
    // Sockets, where the builder measured them.
    for (const [i, m] of [app, twin].entries()) {
      const cell = table.locator('tr[data-row="sockets"] td').nth(i);
      if (!m.surface!.sockets) {
        expect(await cell.innerText()).toMatch(/not measured/);
        continue;
      }
      const listening = m.surface!.sockets.listening;
      expect((await cell.innerText()).trim().split(/\s/)[0]).toBe(String(listening.length));
      if (listening.length) {
        await cell.locator('summary').click();
        expect(await cell.locator('li').first().innerText()).toBe(`${listening[0].proto} ${listening[0].local}${listening[0].type ? ` (${listening[0].type})` : ''}`);
      }
    }
    await screenshot(page, 'inspect-surface');
  });

  it('filters files by the reason they were kept and searches them by path', async () => {
    const { page } = lab;
    const select = page.getByLabel('Filter files by reason', { exact: true });
    const options = await pollFor('the reason filter', async () => ((await select.count()) ? select.locator('option').allInnerTexts() : undefined));
    // "all (N)" and one option per reason kind, most files first, e.g. "traced (23)".
    expect(options[0]).toMatch(/^all \(\d+\)$/);
    const traced = options.find((o) => o.startsWith('traced '));
    expect(traced, `no traced files in ${APPLIANCE}'s files.json: is it a traced appliance?`).toBeDefined();
    await select.selectOption({ label: traced! });
    const table = page.locator('table').filter({ has: page.locator('th', { hasText: 'reason' }) }).first();
    const reasons = await table.locator('tbody td.reason').allInnerTexts();
    expect(reasons.length).toBeGreaterThan(0);
    for (const r of reasons) expect(r).toMatch(/^traced \(/);
    await page.getByLabel('Search files', { exact: true }).fill('bin/');
    const paths = await table.locator('tbody td.path').allInnerTexts();
    expect(paths.length).toBeGreaterThan(0);
    for (const p of paths) expect(p).toContain('bin/');
    await screenshot(page, 'inspect-reasons');
  });

  it('fits a phone screen', async () => {
    const { page, url } = lab;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${url}#/inspect/${APPLIANCE}?twin=debian`);
    await page.getByTestId('surface-table').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'inspect-surface-phone');
  });
});
