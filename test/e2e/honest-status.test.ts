// An import with no ready text is "running", never "ready"; "Mark ready when this text appears"
// keeps a ready text with the import, and the next boot is timed to it.

import { describe, expect, it } from 'vitest';
import { pollFor, terminalLines, rawArtifact, screenshotBoth, labForFile } from './harness.ts';



describe('an import with no ready text', () => {
  const t = labForFile('shell');

  it('shows as running (never ready) and can be given a ready text that stays with it', async () => {
    const { page, url } = t.lab;
    await page.goto(`${url}#/import`);
    await page.getByTestId('import-input').setInputFiles([
      { name: 'vmlinux', mimeType: 'application/octet-stream', buffer: await rawArtifact(t.images.shell, 'vmlinux') },
      { name: 'initramfs.cpio', mimeType: 'application/octet-stream', buffer: await rawArtifact(t.images.shell, 'initrd') },
    ]);
    await page.getByLabel('Name').fill('no-marker');
    await page.getByLabel('Kernel command line').fill(t.images.shell.cmdline ?? 'console=ttyS0');
    await page.getByLabel(/Ready when/).fill('');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('link', { name: 'Boot it' }).click();

    // The guest reaches its prompt, and the page still does not call it ready.
    const prompt = t.images.shell.readyMarker.trim();
    await pollFor('the shell prompt in the terminal', async () => (await terminalLines(page, 'no-marker')).some((l) => l.includes(prompt)), 120_000);
    await page.locator('[data-status="running"]').waitFor();
    expect(await page.locator('[data-status="ready"]').count()).toBe(0);
    expect(await page.locator('.summary').innerText()).toMatch(/no ready text, so no boot time/);
    await screenshotBoth(page, 'machine-no-ready-text');

    // Inspect shows what applies to an import (format, boot method; no packages, no twin diff) and the
    // whole boot log kept so far, not the first byte.
    await page.goto(`${url}#/inspect/no-marker`);
    const facts = await page.locator('.facts').first().innerText();
    expect(facts).toMatch(/format[\s\S]*vmlinux/i);
    expect(facts).toMatch(/direct kernel entry/);
    expect(await page.getByText('Packages and their share').count()).toBe(0);
    expect(await page.getByText(/leaves out of/).count()).toBe(0);
    // An import cannot be rebuilt: its missing surface is explained as never measured.
    expect(await page.getByText(/rebuild to see it/).count()).toBe(0);
    await page.getByText(/imported, so not measured/).waitFor();
    // The log of a machine without a ready text is refreshed every second: wait for the banner.
    const bootLog = page.locator('.panel.box.wide').last();
    await pollFor("busybox's banner in the boot log", async () => (await bootLog.innerText()).includes('BusyBox'), 30_000);
    const log = await bootLog.innerText();
    expect(Number(/Whole log \((\d+) lines\)/.exec(log)?.[1])).toBeGreaterThan(1);
    await screenshotBoth(page, 'inspect-import');
    await page.goto(`${url}#/machine/no-marker`);
    await pollFor('the shell prompt again', async () => (await terminalLines(page, 'no-marker')).some((l) => l.includes(prompt)), 120_000);

    // Mark it ready at the prompt: kept in the stored manifest, and the next boot is timed to it.
    await page.getByLabel('Mark ready when this text appears').fill(t.images.shell.readyMarker);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText(/it already has/).waitFor();
    await page.getByTestId('ready-marker').getByRole('button', { name: 'Boot again' }).click();
    await pollFor('the machine to be ready', () => page.locator('[data-status="ready"]').count(), 120_000);
    expect(await page.locator('.summary').innerText()).toMatch(/Ready in/);

    // Still there after a reload (it came from the store, not from this tab).
    await page.reload();
    await pollFor('the machine to be ready after a reload', () => page.locator('[data-status="ready"]').count(), 120_000);
  });
});
