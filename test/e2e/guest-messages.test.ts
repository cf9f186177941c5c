// Known guest messages in the browser: a firmware failure read off the VGA text screen (a disk made
// here whose boot sector gives up), and an initrd that does not fit in 128 MiB, which the page
// explains and offers to boot with the memory it needs.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeCpio } from '../../images/cpio.ts';
import { bootDisk, givesUpProgram } from './guest-images.ts';
import { pollFor, rawArtifact, screenshotBoth, labForFile } from './harness.ts';

describe('guest messages', () => {
  const t = labForFile('shell', 'shell-firmware');

  it('reads "No bootable device" off the screen and says what to do', async () => {
    const { page, url } = t.lab;
    // A 1 MiB disk whose boot sector only calls INT 18h ("boot failed, try the next device").
    const disk = bootDisk(givesUpProgram());
    await page.goto(`${url}#/import`);
    await page.getByTestId('import-input').setInputFiles({ name: 'gives-up.img', mimeType: 'application/octet-stream', buffer: disk });
    await page.getByLabel('Name').fill('gives-up');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('link', { name: 'Boot it' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'No bootable device' });
    await alert.waitFor({ timeout: 90_000 });
    expect(await alert.innerText()).toMatch(/BIOS \(legacy\) boot/);
    await page.locator('[data-status="failed"]').waitFor();
    await screenshotBoth(page, 'machine-no-bootable-device');
  });

  it('explains an initrd that does not fit in 128 MiB and boots it with the memory it suggests', async () => {
    const { page, url } = t.lab;
    // 60 MiB of data before the shell's own files: unpacked beside itself, it cannot fit in 128 MiB.
    const filler = writeCpio([{ path: 'filler', type: 'file', mode: 0o644, data: new Uint8Array(60 << 20).fill(0x5a) }], 0);
    // Each archive has its own trailer: the kernel reads archives back to back.
    const dir = mkdtempSync(join(tmpdir(), 'whittle-big-initrd-'));
    const initrd = join(dir, 'big-initrd.cpio');
    writeFileSync(initrd, Buffer.concat([filler, await rawArtifact(t.images.shell, 'initrd')]));
    const vmlinux = join(dir, 'vmlinux');
    writeFileSync(vmlinux, await rawArtifact(t.images.shell, 'vmlinux'));
    await page.goto(`${url}#/import`);
    await page.getByTestId('import-input').setInputFiles([vmlinux, initrd]); // over 50 MB: by path (read while importing)
    await page.getByLabel('Name').fill('big-initrd');
    await page.getByLabel('Memory (MiB)').fill('128');
    await page.getByLabel('Kernel command line').fill(t.images.shell.cmdline ?? 'console=ttyS0');
    await page.getByLabel(/Ready when/).fill(t.images.shell.readyMarker);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('link', { name: 'Boot it' }).click();
    rmSync(dir, { recursive: true, force: true });

    const more = page.getByRole('button', { name: /Boot again with \d+ MiB/ });
    await more.waitFor({ timeout: 120_000 });
    const alert = await page.getByRole('alert').innerText();
    expect(alert).toMatch(/needs more memory than 128 MiB: boot it with \d+ MiB/);
    await screenshotBoth(page, 'machine-initrd-needs-memory');
    const suggested = Number(/with (\d+) MiB/.exec(await more.innerText())![1]);
    expect(suggested).toBeGreaterThan(128);
    await more.click();
    await pollFor('the machine to be ready with more memory', () => page.locator('[data-status="ready"]').count(), 120_000);
    // Kept with the import: the library card shows the new memory.
    await page.goto(`${url}#/library`);
    expect(await page.locator('[data-image="big-initrd"]').innerText()).toContain(String(suggested));
  });
});
