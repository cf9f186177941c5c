// Importing a file that is not an image: a clear message, and the library stays as it was.

import { describe, expect, it } from 'vitest';
import { pollFor, screenshot, terminalLines, typeInTerminal, rawArtifact, labForFile } from './harness.ts';

/** An artifact of a built image as the guest sees it (decompressed). */

describe('import', () => {
  const t = labForFile('shell');

  it('refuses a file that is not an image, leaving the library unchanged', async () => {
    const { page, url } = t.lab;
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

  it("imports a kernel and initrd (shell's own vmlinux: entered directly, no firmware), stores them by hash and boots them", async () => {
    const { page, url } = t.lab;
    await page.goto(`${url}#/import`);
    await page.getByTestId('import-input').setInputFiles([
      { name: 'vmlinux', mimeType: 'application/octet-stream', buffer: await rawArtifact(t.images.shell, 'vmlinux') },
      { name: 'initramfs.cpio', mimeType: 'application/octet-stream', buffer: await rawArtifact(t.images.shell, 'initrd') },
    ]);
    await page.getByText('Linux kernel (vmlinux, entered directly without firmware)').waitFor();
    await page.getByText('initrd (uncompressed cpio)').waitFor();
    await page.getByLabel('Name').fill('my-kernel');
    await page.getByLabel('Kernel command line').fill(t.images.shell.cmdline ?? 'console=ttyS0');
    await page.getByLabel(/Ready when/).fill(t.images.shell.readyMarker);
    await screenshot(page, 'import-recognised');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('link', { name: 'Boot it' }).click();
    await pollFor('the imported kernel to reach its prompt', () => page.locator('[data-status="ready"]').count(), 120_000);
    await typeInTerminal(page, 'my-kernel', 'echo imported');
    await pollFor('"imported" on its own line', async () => (await terminalLines(page, 'my-kernel')).some((l) => l.trim() === 'imported'));
    await page.goto(`${url}#/library`);
    await page.locator('[data-image="my-kernel"] [data-stored="yes"]').waitFor();
  });
});
