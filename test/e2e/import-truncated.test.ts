// A cut-off ISO: the import says so before storing anything, imports only when told to, and the
// firmware's failure to read it is then shown as what happened and what to do.

import { describe, expect, it } from 'vitest';
import { isoImage } from './guest-images.ts';
import { screenshotBoth, labForFile } from './harness.ts';

describe('a truncated ISO', () => {
  const t = labForFile('shell-firmware');

  it('is flagged before import, imported only when accepted, and its read failure explained', async () => {
    const { page, url } = t.lab;
    const whole = isoImage(2400); // 4.9 MB
    await page.goto(`${url}#/import`);
    await page.getByTestId('import-input').setInputFiles({ name: 'rescue.iso', mimeType: 'application/octet-stream', buffer: whole.subarray(0, 100_000) });
    const warning = page.getByTestId('truncated');
    await warning.waitFor();
    expect(await warning.innerText()).toMatch(/rescue\.iso is cut off: its volume descriptor says the CD image has 4\.92 MB, but the file has 100 kB \(2 %\)/);
    const importButton = page.getByRole('button', { name: 'Import', exact: true });
    expect(await importButton.isDisabled()).toBe(true);
    expect(await page.getByLabel(/Memory/).inputValue()).toBe('256');
    await screenshotBoth(page, 'import-truncated');

    // A whole copy raises no warning.
    await page.getByTestId('import-input').setInputFiles({ name: 'whole.iso', mimeType: 'application/octet-stream', buffer: whole });
    await page.getByText('ISO 9660 CD image').waitFor();
    expect(await page.getByTestId('truncated').count()).toBe(0);

    // Imported anyway: the firmware cannot boot it, and the page says why.
    await page.getByTestId('import-input').setInputFiles({ name: 'rescue.iso', mimeType: 'application/octet-stream', buffer: whole.subarray(0, 100_000) });
    await page.getByLabel('Import it anyway').check();
    await importButton.click();
    await page.getByRole('link', { name: 'Boot it' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'could not read the CD image' });
    await alert.waitFor({ timeout: 90_000 });
    expect(await alert.innerText()).toMatch(/damaged or cut off/);
    await screenshotBoth(page, 'machine-cd-read-failed');
  });
});
