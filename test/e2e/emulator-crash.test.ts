// An image the emulator cannot run: a disk made here whose boot sector makes v86 itself fail (a wasm
// trap, as a real unsupported guest causes). The first crash offers Boot again; the same crash right
// after it says the image is not supported by this emulator and where to read more.

import { describe, expect, it } from 'vitest';
import { bootDisk, crashesV86Program } from './guest-images.ts';
import { labForFile, screenshotBoth } from './harness.ts';

describe('an image the emulator cannot run', () => {
  const t = labForFile('shell-firmware'); // imports borrow its firmware (SeaBIOS)

  it('says so when the crash repeats right after Boot again', async () => {
    const { page, url } = t.lab;
    await page.goto(`${url}#/import`);
    await page.getByTestId('import-input').setInputFiles({ name: 'crashes-v86.img', mimeType: 'application/octet-stream', buffer: bootDisk(crashesV86Program()) });
    await page.getByLabel('Name').fill('crashes-v86');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('link', { name: 'Boot it' }).click();

    // The first crash: what happened, and Boot again.
    const crashed = page.getByRole('alert').filter({ hasText: 'The emulator crashed' });
    await crashed.waitFor({ timeout: 90_000 });
    expect(await crashed.innerText()).toMatch(/Press Boot again/);
    expect(await crashed.innerText()).not.toMatch(/cannot run this image/);
    await page.locator('[data-status="failed"]').waitFor();

    // The same crash right after booting again: not supported, and where to read more.
    await page.getByRole('button', { name: 'Boot again', exact: true }).click();
    const unsupported = page.getByRole('alert').filter({ hasText: 'cannot run this image' });
    await unsupported.waitFor({ timeout: 90_000 });
    const text = await unsupported.innerText();
    expect(text).toMatch(/The emulator crashed again on crashes-v86 .*: v86 cannot run this image/);
    expect(text).toMatch(/Booting again will not help/);
    const more = unsupported.getByRole('link', { name: /github\.com\/copy\/v86#compatibility/ });
    expect(await more.getAttribute('href')).toBe('https://github.com/copy/v86#compatibility');
    await page.locator('[data-status="failed"]').waitFor();
    await screenshotBoth(page, 'machine-emulator-unsupported');
  });
});
