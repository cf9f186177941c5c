// Storing refuses a download whose bytes do not match the manifest's sha256, says so, and leaves the
// image not stored; a server that is gone gets a message with what to do.

import { describe, expect, it } from 'vitest';
import { pollFor, screenshot, labForFile } from './harness.ts';

describe('storing errors', () => {
  const t = labForFile('shell');

  it('refuses a corrupted artifact with a clear message', async () => {
    const { page, url } = t.lab;
    const kernel = t.images.shell.artifacts.find((a) => a.role === 'vmlinux')!;
    // Same length, different bytes: only the hash can tell.
    await page.route(`**/images/shell/${kernel.file}`, (route) => route.fulfill({ status: 200, body: Buffer.alloc(kernel.compressedSize, 0x5a) }));
    await page.goto(`${url}#/library`);
    const card = page.locator('[data-image="shell"]');
    await card.getByRole('button', { name: /^Store/ }).click();
    const alert = card.getByRole('alert');
    await alert.waitFor({ timeout: 60_000 });
    const text = await alert.innerText();
    expect(text).toContain(`${kernel.file} from `);
    expect(text).toContain("does not match the image's manifest (its sha256 differs)");
    await screenshot(page, 'library-hash-mismatch');
    await pollFor('the card to say not stored', async () => (await card.locator('[data-stored]').getAttribute('data-stored')) !== 'yes');
    await page.unroute(`**/images/shell/${kernel.file}`);
  });

  it('says what to do when a download fails', async () => {
    const { page, url } = t.lab;
    await page.route('**/images/shell/**', (route) => route.abort('connectionrefused'));
    await page.goto(`${url}#/library`);
    const card = page.locator('[data-image="shell"]');
    await card.getByRole('button', { name: /^Store/ }).click();
    const alert = card.getByRole('alert');
    await alert.waitFor({ timeout: 60_000 });
    expect(await alert.innerText()).toMatch(/Could not download .* network request failed/);
    expect(await alert.innerText()).toMatch(/try again/);
    await page.unroute('**/images/shell/**');
  });
});
