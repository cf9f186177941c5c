// Store `shell` from the library, boot it and talk to it; then boot it again with the image files
// cut off, from this browser's IndexedDB alone. Screenshots of the library, machine and inspect views.

import { describe, expect, it } from 'vitest';
import { pollFor, screenshot, terminalLines, typeInTerminal, labForFile } from './harness.ts';

const BOOT_MS = 120_000;

describe('library and machine', () => {
  const t = labForFile('shell');

  async function bootAndEcho(word: string): Promise<void> {
    const { page } = t.lab;
    await pollFor('shell to reach its prompt', () => page.locator('[data-status="ready"]').count(), BOOT_MS);
    await typeInTerminal(page, 'shell', `echo ${word}`);
    // The answer is a line of its own, apart from the echoed command line.
    await pollFor(`"${word}" on its own line in the terminal`, async () => (await terminalLines(page, 'shell')).some((l) => l.trim() === word), 20_000);
  }

  it('stores shell, boots it and answers echo hi', async () => {
    const { page, url } = t.lab;
    await page.goto(`${url}#/library`);
    const card = page.locator('[data-image="shell"]');
    await card.waitFor();
    await expect(card.locator('[data-stored]').getAttribute('data-stored')).resolves.toBe('no');
    await card.getByRole('button', { name: /^Store/ }).click();
    await pollFor('shell to be stored', async () => (await card.locator('[data-stored]').getAttribute('data-stored')) === 'yes', 60_000);
    await screenshot(page, 'library');

    await card.getByRole('link', { name: 'Boot' }).click();
    await bootAndEcho('hi');
    await page.getByText("from this browser's storage").waitFor();
    await screenshot(page, 'machine');

    // Inspect boots it again with kernel timestamps and points at the largest pauses.
    await page.goto(`${url}#/inspect/shell`);
    await page.getByRole('button', { name: /with timestamps/ }).click();
    await pollFor('the boot log analysis', () => page.getByText('largest pauses between lines').count(), BOOT_MS);
    await screenshot(page, 'inspect');
  });

  it('saves the running machine and restores it: the guest is back where it was saved', async () => {
    const { page, url } = t.lab;
    await page.goto(`${url}#/machine/shell`);
    await bootAndEcho('before-save');
    const answer = async (line: string, want: string) => {
      await typeInTerminal(page, 'shell', line);
      await pollFor(`"${want}" in the terminal`, async () => (await terminalLines(page, 'shell')).some((l) => l.trim() === want), 20_000);
    };
    await answer('W=saved; echo w-$W', 'w-saved');
    await page.getByRole('button', { name: 'Save state' }).click();
    await page.getByText(/^saved .* in /).waitFor({ timeout: 30_000 });
    await answer('W=changed; echo w-$W', 'w-changed');
    await page.getByRole('button', { name: /^Restore…/ }).click();
    await page.locator('#saved-states button').first().click();
    // Keys typed while it restores are not sent: wait for it, as a person would.
    await page.getByText(/Restored from a saved state in/).waitFor({ timeout: 30_000 });
    // Restored into the running machine's worker; what was set after the save is gone.
    await answer('echo now-$W', 'now-saved');
    await screenshot(page, 'machine-restored');
  });

  it('boots shell again from IndexedDB with the image files cut off', async () => {
    const { page, url } = t.lab;
    const attempted: string[] = [];
    await page.route('**/images/**', (route) => {
      attempted.push(new URL(route.request().url()).pathname);
      return route.abort('internetdisconnected');
    });
    await page.goto(`${url}#/library`);
    await page.reload();
    // The catalog cannot load, yet the stored image is listed.
    await page.getByText('only images stored in this browser are shown').waitFor();
    const card = page.locator('[data-image="shell"]');
    await expect(card.locator('[data-stored]').getAttribute('data-stored')).resolves.toBe('yes');
    await screenshot(page, 'library-offline');
    await card.getByRole('link', { name: 'Boot' }).click();
    await bootAndEcho('offline');
    expect(attempted.filter((p) => p !== '/images/index.json')).toEqual([]);
    await page.unroute('**/images/**');
  });
});
