// A guest that draws on the VGA screen and says nothing on serial (a CD made here: an El Torito boot
// sector that prints on the screen and echoes keys): the screen is the machine's main pane, large and
// crisp, typed on only while focused, full screen on request; the serial console is folded away and
// opens by itself when the guest writes to it; the timeline claims no phase it cannot see.

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { echoKeysProgram, isoImage } from './guest-images.ts';
import { labForFile, pollFor, SCREENSHOTS, screenshotBoth, terminalLines } from './harness.ts';

const MESSAGE = 'WHITTLE screen test, type here> ';

describe('a screen-first machine', () => {
  const t = labForFile('shell-firmware'); // imports borrow its firmware (SeaBIOS)

  it('shows an ISO that draws on VGA as a large screen, folds its quiet serial console, and types only when focused', async () => {
    const { page, url } = t.lab;
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${url}#/import`);
    await page.getByTestId('import-input').setInputFiles({ name: 'echo-keys.iso', mimeType: 'application/octet-stream', buffer: isoImage(64, echoKeysProgram(MESSAGE)) });
    await page.getByLabel('Name').fill('echo-keys');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('link', { name: 'Boot it' }).click();

    // The screen's text (for screen readers and Copy) shows the boot sector's message.
    const screenText = async () => (await page.locator('[data-screen-text]').textContent()) ?? '';
    await pollFor('the boot sector message on the VGA screen', async () => (await screenText()).includes(MESSAGE.trim()), 90_000);
    expect(await screenText()).toContain('Booting from DVD/CD');

    // The screen is the main pane: at least its native 720×400, scaled by a whole number.
    expect(await page.locator('[data-layout="screen-first"]').count()).toBe(1);
    const canvas = page.locator('canvas');
    const box = (await canvas.boundingBox())!;
    expect(box.width).toBeGreaterThanOrEqual(720);
    expect(box.height).toBeGreaterThanOrEqual(400);
    expect(Math.round(box.width) % 720).toBeLessThanOrEqual(2); // 1 px borders
    expect(await page.locator('.screen .caption').innerText()).toMatch(/VGA text 80×25 · \d×/);
    expect(await canvas.evaluate((c) => getComputedStyle(c).imageRendering)).toBe('pixelated');
    const aside = (await page.locator('aside').boundingBox())!;
    expect(box.width).toBeGreaterThan(aside.width * 2);

    // The quiet serial console is folded, with its line count, and no terminal is open.
    const fold = page.locator('[data-serial-fold]');
    expect(await fold.getAttribute('open')).toBeNull();
    expect(await fold.innerText()).toMatch(/quiet: nothing written yet/);
    expect(await page.locator('[data-terminal]').count()).toBe(0);

    // The timeline shows firmware running, and no kernel or userspace it cannot see.
    const legend = await page.locator('.legend').innerText();
    expect(legend).toMatch(/firmware[\s\S]*running/);
    expect(legend).not.toMatch(/kernel|userspace/);
    expect(await page.locator('.seg.kernel, .seg.userspace').count()).toBe(0);
    await page.getByTestId('screen-only-note').waitFor();
    await page.locator('[data-status="running"]').waitFor();
    // A ready text is read on serial: not offered while the guest is silent there.
    expect(await page.getByLabel('Mark ready when this text appears').count()).toBe(0);
    await screenshotBoth(page, 'machine-screen-first-quiet');

    // Keys typed while the screen is not focused do not reach the guest.
    await page.locator('h1').click();
    await page.keyboard.type('nope', { delay: 20 });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await screenText()).not.toContain('nope');
    expect(await canvas.getAttribute('class')).not.toMatch(/focused/);
    expect(await page.locator('.screen .hint').innerText()).toMatch(/Click the screen to type/);

    // A click gives it the focus and a visible ring; then typing reaches the guest.
    await canvas.click();
    expect(await canvas.evaluate((c) => document.activeElement === c)).toBe(true);
    expect(await canvas.evaluate((c) => getComputedStyle(c).boxShadow)).not.toBe('none');
    expect(await page.locator('.screen .hint').innerText()).toMatch(/Keys go to the guest/);
    await page.keyboard.type('hello', { delay: 40 });
    await pollFor('the typed keys echoed on the screen', async () => (await screenText()).includes(`${MESSAGE}hello`), 20_000);

    // The guest echoed them on serial too: the console opens by itself and counts the line.
    await pollFor('the serial console to open', async () => (await fold.getAttribute('open')) !== null, 10_000);
    await fold.scrollIntoViewIfNeeded(); // xterm.js draws only while it is in view
    await pollFor('the echo in the serial terminal', async () => (await terminalLines(page, 'echo-keys')).some((l) => l.includes('hello')), 10_000);
    expect(await fold.locator('summary').innerText()).toMatch(/1 line/);
    await canvas.click(); // the focus ring in the pictures
    await screenshotBoth(page, 'machine-screen-first');

    // Full screen: the screen element fills the display, larger than in the page.
    await page.getByRole('button', { name: 'Full screen' }).click();
    await pollFor('the screen to go full screen', () => page.evaluate(() => document.fullscreenElement?.classList.contains('screen') ?? false), 10_000);
    const fullBox = (await canvas.boundingBox())!;
    expect(fullBox.width).toBeGreaterThanOrEqual(box.width);
    expect(await canvas.evaluate((c) => document.activeElement === c)).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'machine-screen-fullscreen.png') });
    await page.getByRole('button', { name: 'Exit full screen' }).click();
    await pollFor('full screen to end', () => page.evaluate(() => document.fullscreenElement === null), 10_000);
  });
});
