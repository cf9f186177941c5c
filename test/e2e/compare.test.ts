// Compare `shell` with the `debian` twin: both reach their prompt, and the table shows both rows and
// the ratio. Slow: Debian takes a minute or more to boot in v86.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Lab, openLab, pollFor, requireImage, screenshot, stopServer } from './harness.ts';

describe('compare', () => {
  let lab: Lab;

  beforeAll(async () => {
    await requireImage('shell');
    await requireImage('debian');
    lab = await openLab();
  });
  afterAll(async () => {
    await lab?.close();
    await stopServer();
  });

  it('races shell against debian and shows both rows and the ratio', async () => {
    const { page, url } = lab;
    await page.goto(`${url}#/compare?images=shell,debian`);
    await page.locator('[data-lane="debian"]').waitFor();
    await page.getByRole('button', { name: 'Race' }).click();
    for (const name of ['shell', 'debian']) {
      await pollFor(`${name} to reach its prompt`, () => page.locator(`[data-lane="${name}"] [data-status="ready"]`).count(), 280_000, 1000);
    }
    const table = page.getByTestId('compare-results');
    const shellRow = await table.locator('[data-row="shell"]').innerText();
    const debianRow = await table.locator('[data-row="debian"]').innerText();
    expect(shellRow).toMatch(/\d+(\.\d+)? (ms|s)/);
    expect(debianRow).toMatch(/\d+(\.\d+)? (ms|s)/);
    const ratio = await table.locator('[data-row="ratio"]').innerText();
    expect(ratio).toMatch(/debian ÷ shell/);
    expect(ratio).toMatch(/\d+(\.\d+)?×/);
    await screenshot(page, 'compare');
  });
});
