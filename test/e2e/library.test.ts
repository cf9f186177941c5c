// The Library as a newcomer meets it: sections in order (appliances smallest first, rungs, the twin,
// imports), a "Start here" link into Compare, search and kind filter, a glossary, each card's last
// boot time in this browser; and on a phone, the Machine tab in view.

import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { pollFor, screenshot, screenshotBoth, labForFile } from './harness.ts';


const names = (page: Page, scope = '') => page.locator(`${scope} [data-image]`).evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.image));

describe('library', () => {
  const t = labForFile('shell', 'debian');

  it('starts somewhere: sections in order, smallest appliance first, a Start here link, search and filter', async () => {
    const { page, url } = t.lab;
    await page.goto(`${url}#/library`);
    await page.locator('[data-image]').first().waitFor();
    const sections = await page.locator('[data-section]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.section));
    expect(sections[0]).toBe('appliance');
    expect(sections.indexOf('twin')).toBeGreaterThan(sections.indexOf('appliance'));
    if (sections.includes('rung')) expect(sections.indexOf('rung')).toBeLessThan(sections.indexOf('twin'));
    expect((await names(page, '[data-section="appliance"]'))[0]).toBe('shell');
    expect(await names(page, '[data-section="twin"]')).toEqual(['debian']);
    expect(await page.getByRole('link', { name: /race shell against debian/ }).getAttribute('href')).toBe('#/compare?images=shell,debian');
    await page.getByText('What the terms mean').click();
    expect(await page.locator('.glossary').innerText()).toMatch(/vmlinux[\s\S]*firmware|firmware[\s\S]*vmlinux/);
    await screenshotBoth(page, 'library');

    await page.getByLabel('Search images').fill('sqlite');
    await pollFor('only sqlite to be listed', async () => JSON.stringify(await names(page)) === '["sqlite"]');
    await page.getByLabel('Search images').fill('');
    await page.getByLabel('Kind of image').selectOption('appliance');
    await pollFor('only appliances to be listed', async () => (await page.locator('[data-section]').count()) === 1 && (await names(page)).includes('shell'));
    await page.getByLabel('Kind of image').selectOption('');
  });

  it("shows the last boot time measured in this browser on the image's card", async () => {
    const { page, url } = t.lab;
    expect(await page.locator('[data-image="shell"] [data-boot-time]').innerText()).toMatch(/not booted here yet/);
    await page.goto(`${url}#/machine/shell`);
    await pollFor('shell to be ready', () => page.locator('[data-status="ready"]').count(), 120_000);
    const summary = await page.locator('.summary').innerText();
    const ready = /Ready in ([\d.]+ m?s)/.exec(summary)![1];

    // On a phone the Machine tab (the last) is scrolled into view.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await pollFor('shell to be ready again', () => page.locator('[data-status="ready"]').count(), 120_000);
    const tab = await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Machine', exact: true }).boundingBox();
    expect(tab && tab.x >= 0 && tab.x + tab.width <= 390).toBe(true);
    await screenshot(page, 'machine-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
    const again = /Ready in ([\d.]+ m?s)/.exec(await page.locator('.summary').innerText())![1];

    await page.goto(`${url}#/library`);
    const card = await page.locator('[data-image="shell"] [data-boot-time]').innerText();
    expect(card).toContain('in this browser');
    expect([ready, again].some((text) => card.includes(text))).toBe(true);
  });
});
