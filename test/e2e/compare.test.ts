// Compare `shell` with the `debian` twin: both reach their prompt, and the table shows both rows and
// the ratio. Slow: Debian takes a minute or more to boot in v86.

import { describe, expect, it } from 'vitest';
import { pollFor, screenshot, labForFile } from './harness.ts';

describe('compare', () => {
  const t = labForFile('shell', 'debian');

  // Debian needs 60–90 s to its prompt on an idle 2-core host; allow for a busy one.
  it('races shell against debian and shows both rows and the ratio', { timeout: 900_000 }, async () => {
    const { page, url } = t.lab;
    await page.goto(`${url}#/compare?images=shell,debian`);
    await page.locator('[data-lane="debian"]').waitFor();
    await page.getByRole('button', { name: 'Race' }).click();
    try {
      for (const name of ['shell', 'debian']) {
        await pollFor(`${name} to reach its prompt`, () => page.locator(`[data-lane="${name}"] [data-status="ready"]`).count(), 780_000, 1000);
      }
    } catch (e) {
      await screenshot(page, 'compare-failed');
      throw e;
    }
    const table = page.getByTestId('compare-results');
    const shellRow = await table.locator('[data-row="shell"]').innerText();
    const debianRow = await table.locator('[data-row="debian"]').innerText();
    // A time to the prompt: "830 ms", "1.42 s", or on a slow host "3 min" / "2 min 58 s".
    const time = /\b\d+(\.\d+)? (ms|s|min)\b/;
    expect(shellRow).toMatch(time);
    expect(debianRow).toMatch(time);
    const ratio = await table.locator('[data-row="ratio"]').innerText();
    expect(ratio).toMatch(/debian ÷ shell/);
    expect(ratio).toMatch(/\d+(\.\d+)?×/);
    await screenshot(page, 'compare');
  });
});
