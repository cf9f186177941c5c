// Known guest messages in the browser: a firmware failure read off the VGA text screen (a disk made
// here whose boot sector gives up), and an initrd that does not fit in 128 MiB, which the page
// explains and offers to boot with the memory it needs.

import { decompress, init } from '@bokuweb/zstd-wasm';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCpio } from '../../images/cpio.ts';
import type { Manifest } from '../../images/manifest.ts';
import { IMAGES, type Lab, openLab, pollFor, requireImage, screenshot, stopServer } from './harness.ts';

async function rawArtifact(m: Manifest, role: 'vmlinux' | 'initrd'): Promise<Buffer> {
  const a = m.artifacts.find((x) => x.role === role)!;
  const stored = await readFile(join(IMAGES, m.name, a.file!));
  if (a.compression === 'none') return stored;
  await init();
  return Buffer.from(decompress(stored));
}

async function both(page: Page, name: string): Promise<void> {
  await page.setViewportSize({ width: 1280, height: 800 });
  await screenshot(page, name);
  await page.setViewportSize({ width: 390, height: 844 });
  await screenshot(page, `${name}-phone`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

describe('guest messages', () => {
  let lab: Lab;
  let shell: Manifest;

  beforeAll(async () => {
    shell = await requireImage('shell');
    await requireImage('shell-firmware'); // imports of disks borrow its SeaBIOS
    lab = await openLab();
  });
  afterAll(async () => {
    await lab?.close();
    await stopServer();
  });

  it('reads "No bootable device" off the screen and says what to do', async () => {
    const { page, url } = lab;
    // A 1 MiB disk whose boot sector only calls INT 18h ("boot failed, try the next device").
    const disk = Buffer.alloc(1 << 20);
    disk.set([0xcd, 0x18, 0xeb, 0xfe], 0); // int 0x18; jmp $
    disk.set([0x55, 0xaa], 510);
    await page.goto(`${url}#/import`);
    await page.getByTestId('import-input').setInputFiles({ name: 'gives-up.img', mimeType: 'application/octet-stream', buffer: disk });
    await page.getByLabel('Name').fill('gives-up');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('link', { name: 'Boot it' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'No bootable device' });
    await alert.waitFor({ timeout: 90_000 });
    expect(await alert.innerText()).toMatch(/BIOS \(legacy\) boot/);
    await page.locator('[data-status="failed"]').waitFor();
    await both(page, 'machine-no-bootable-device');
  });

  it('explains an initrd that does not fit in 128 MiB and boots it with the memory it suggests', async () => {
    const { page, url } = lab;
    // 60 MiB of data before the shell's own files: unpacked beside itself, it cannot fit in 128 MiB.
    const filler = writeCpio([{ path: 'filler', type: 'file', mode: 0o644, data: new Uint8Array(60 << 20).fill(0x5a) }], 0);
    // Each archive has its own trailer: the kernel reads archives back to back.
    const dir = mkdtempSync(join(tmpdir(), 'whittle-big-initrd-'));
    const initrd = join(dir, 'big-initrd.cpio');
    writeFileSync(initrd, Buffer.concat([filler, await rawArtifact(shell, 'initrd')]));
    const vmlinux = join(dir, 'vmlinux');
    writeFileSync(vmlinux, await rawArtifact(shell, 'vmlinux'));
    await page.goto(`${url}#/import`);
    await page.getByTestId('import-input').setInputFiles([vmlinux, initrd]); // over 50 MB: by path (read while importing)
    await page.getByLabel('Name').fill('big-initrd');
    await page.getByLabel('Memory (MiB)').fill('128');
    await page.getByLabel('Kernel command line').fill(shell.cmdline ?? 'console=ttyS0');
    await page.getByLabel(/Ready when/).fill(shell.readyMarker);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('link', { name: 'Boot it' }).click();
    rmSync(dir, { recursive: true, force: true });

    const more = page.getByRole('button', { name: /Boot again with \d+ MiB/ });
    await more.waitFor({ timeout: 120_000 });
    const alert = await page.getByRole('alert').innerText();
    expect(alert).toMatch(/needs more memory than 128 MiB: boot it with \d+ MiB/);
    await both(page, 'machine-initrd-needs-memory');
    const suggested = Number(/with (\d+) MiB/.exec(await more.innerText())![1]);
    expect(suggested).toBeGreaterThan(128);
    await more.click();
    await pollFor('the machine to be ready with more memory', () => page.locator('[data-status="ready"]').count(), 120_000);
    // Kept with the import: the library card shows the new memory.
    await page.goto(`${url}#/library`);
    expect(await page.locator('[data-image="big-initrd"]').innerText()).toContain(String(suggested));
  });
});
