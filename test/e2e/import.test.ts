// Importing a file that is not an image: a clear message, and the library stays as it was.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Lab, openLab, pollFor, requireImage, screenshot, stopServer } from './harness.ts';

describe('import', () => {
  let lab: Lab;

  beforeAll(async () => {
    await requireImage('shell');
    lab = await openLab();
  });
  afterAll(async () => {
    await lab?.close();
    await stopServer();
  });

  it('refuses a file that is not an image, leaving the library unchanged', async () => {
    const { page, url } = lab;
    await page.goto(`${url}#/library`);
    await page.locator('[data-image]').first().waitFor();
    const before = await page.locator('[data-image]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.image));

    await page.goto(`${url}#/import`);
    await screenshot(page, 'import');
    await page.getByTestId('import-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('These are my notes, not a disk image.\n'.repeat(40)) });
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = await alert.innerText();
    expect(text).toMatch(/notes\.txt is not a bootable image/);
    expect(text).toMatch(/Import an \.iso, a raw disk image/);
    await screenshot(page, 'import-error');

    await page.goto(`${url}#/library`);
    await page.locator('[data-image]').first().waitFor();
    const after = await pollFor('the library to list its images', async () => {
      const names = await page.locator('[data-image]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.image));
      return names.length ? names : undefined;
    });
    expect(after).toEqual(before);
    const stored = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const req = indexedDB.open('whittle-images');
          req.onsuccess = () => {
            const db = req.result;
            if (!db.objectStoreNames.contains('images')) return resolve(0);
            const count = db.transaction('images').objectStore('images').count();
            count.onsuccess = () => resolve(count.result);
          };
          req.onerror = () => resolve(-1);
        }),
    );
    expect(stored).toBe(0);
  });
});
