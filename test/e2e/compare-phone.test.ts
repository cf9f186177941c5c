// Compare on a phone (390×844): the result table scrolls sideways with the image column kept in
// place, and each lane's terminal fits its width. Uses shell and its first rung (both quick to boot).

import { describe, expect, it } from 'vitest';
import { pollFor, screenshot, labForFile } from './harness.ts';

describe('compare on a phone', () => {
  const t = labForFile('shell', 'shell-firmware');

  it('keeps the results readable and the terminals inside the screen', async () => {
    const { page, url } = t.lab;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${url}#/compare?images=shell,shell-firmware`);
    await page.locator('[data-lane="shell-firmware"]').waitFor();
    await page.getByRole('button', { name: 'Race' }).click();
    for (const name of ['shell', 'shell-firmware']) {
      await pollFor(`${name} to reach its prompt`, () => page.locator(`[data-lane="${name}"] [data-status="ready"]`).count(), 180_000, 500);
    }
    const table = page.getByTestId('compare-results');
    await table.locator('[data-row="shell-firmware"]').waitFor();
    const layout = await table.evaluate((el) => {
      const scroller = el.parentElement!;
      const first = el.querySelector('tbody td')!;
      return { sticky: getComputedStyle(first).position, scrolls: scroller.scrollWidth > scroller.clientWidth, inside: scroller.getBoundingClientRect().right <= window.innerWidth };
    });
    expect(layout).toEqual({ sticky: 'sticky', scrolls: true, inside: true });
    // No terminal wider than the screen: long lines wrap inside it.
    const widest = await page.locator('.xterm-screen').evaluateAll((els) => Math.max(...els.map((e) => e.getBoundingClientRect().right)));
    expect(widest).toBeLessThanOrEqual(390);
    await screenshot(page, 'compare-phone');
    // Scrolled to its last columns, the image names stay in view.
    await table.evaluate((el) => (el.parentElement!.scrollLeft = el.parentElement!.scrollWidth));
    const nameLeft = await table.locator('[data-row="shell"] td').first().evaluate((td) => td.getBoundingClientRect().left - td.closest('.scroll')!.getBoundingClientRect().left);
    expect(Math.abs(nameLeft)).toBeLessThan(2);
    await screenshot(page, 'compare-phone-scrolled');
  });
});
