// Files in and out of a guest through the machine view's host share (/mnt/host): a CSV dropped onto
// sqlite is imported and queried in the guest, a file the guest wrote is listed and downloaded (one
// file, then all as a tar), a large file shows its progress, and a share link's inline file is in
// place before its script runs.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { deflateRawSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { readTar } from '../../images/archive/tar.ts';
import { formatBytes } from '../../images/format.ts';
import { labForFile, pollFor, screenshotBoth, terminalLines, typeInTerminal } from './harness.ts';

const BOOT_MS = 120_000;

/** Rows no typed line contains: their count and sums come back only from the guest. */
const people = Array.from({ length: 1234 }, (_, i) => ({ id: i + 1, name: `p${((i * 7919) % 10007).toString(36)}`, age: 18 + ((i * 37) % 71) }));
const csv = `id,name,age\n${people.map((p) => `${p.id},${p.name},${p.age}\n`).join('')}`;
const ageSum = people.reduce((n, p) => n + p.age, 0);
// What sqlite 3.40's `.once` writes in csv mode: one LF-ended row each. `.import` made every column
// TEXT, hence the casts in the query.
const elders = people.filter((p) => p.age >= 80).map((p) => `${p.id},${p.name}\n`).join('');

/** Drops a file made in the page onto `selector`, as a drag from the desktop would (dragenter, dragover, drop). */
async function dropFile(page: Page, selector: string, name: string, content: string | { size: number }): Promise<void> {
  const dt = await page.evaluateHandle(
    ({ name, content }) => {
      const dt = new DataTransfer();
      const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : Uint8Array.from({ length: content.size }, (_, i) => (i * 31) & 0xff);
      dt.items.add(new File([bytes], name));
      return dt;
    },
    { name, content },
  );
  for (const type of ['dragenter', 'dragover', 'drop']) await page.dispatchEvent(selector, type, { dataTransfer: dt });
}

async function untilLine(page: Page, label: string, want: string, timeoutMs = 30_000): Promise<void> {
  let lines: string[] = [];
  try {
    await pollFor(`"${want}" on its own line`, async () => (lines = (await terminalLines(page, label)).map((l) => l.trim())).includes(want), timeoutMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nterminal:\n${lines.join('\n')}`, { cause: e });
  }
}

describe('files in and out of a guest', () => {
  const t = labForFile('sqlite', 'shell');

  it('imports a CSV dropped onto sqlite, lists and downloads what the guest wrote, one file and all as a tar', async () => {
    expect(t.images.sqlite.share, 'sqlite was built without "share": rebuild it (npm run images -- build sqlite)').toBe(true);
    const { page, url } = t.lab;
    await page.goto(`${url}#/machine/sqlite`);
    await pollFor('sqlite to reach its prompt', () => page.locator('[data-status="ready"]').count(), BOOT_MS);
    const files = page.getByTestId('files');

    await dropFile(page, '[data-terminal^="sqlite"]', 'people.csv', csv);
    await files.locator('[data-path="people.csv"]').waitFor();
    expect(await files.locator('[data-path="people.csv"] td.num').innerText()).toBe(formatBytes(csv.length));

    await typeInTerminal(page, 'sqlite', '.mode csv');
    await typeInTerminal(page, 'sqlite', '.import /mnt/host/people.csv people');
    await typeInTerminal(page, 'sqlite', 'select count(*), sum(age) from people;');
    await untilLine(page, 'sqlite', `${people.length},${ageSum}`);

    // The guest writes a file into the share: the list shows it without being asked.
    await typeInTerminal(page, 'sqlite', '.once /mnt/host/elders.csv');
    await typeInTerminal(page, 'sqlite', 'select id, name from people where cast(age as integer) >= 80 order by cast(id as integer);');
    const row = files.locator('[data-path="elders.csv"]');
    await row.waitFor({ timeout: 30_000 });
    await pollFor('elders.csv at its full size in the list', async () => (await row.locator('td.num').innerText()) !== '0 B');

    const [one] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Download elders.csv' }).click()]);
    expect(one.suggestedFilename()).toBe('elders.csv');
    expect(await readFile((await one.path())!, 'utf8')).toBe(elders);

    const [all] = await Promise.all([page.waitForEvent('download'), files.getByRole('button', { name: 'Download all (.tar)' }).click()]);
    expect(all.suggestedFilename()).toBe('sqlite-mnt-host.tar');
    const tar = await readTar(await readFile((await all.path())!));
    expect(tar.map((e) => e.path).sort()).toEqual(['elders.csv', 'people.csv']);
    expect(Buffer.from(tar.find((e) => e.path === 'people.csv')!.data!).toString()).toBe(csv);
    await screenshotBoth(page, 'files');
  });

  it('shows a large file’s progress while it is read in, and refuses a name that climbs out', async () => {
    const { page } = t.lab;
    const files = page.getByTestId('files');
    // Every progress label the panel shows, however briefly.
    await page.evaluate(() => {
      const seen: string[] = ((window as unknown as { putting: string[] }).putting = []);
      new MutationObserver(() => {
        for (const el of Array.from(document.querySelectorAll('[data-testid="files"] [role="progressbar"]'))) seen.push(el.getAttribute('aria-valuenow') ?? '');
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    // Three 4 MiB chunks (worker/share.ts PUT_CHUNK); small enough for sqlite's 64 MiB guest to read whole.
    const size = 12 << 20;
    await dropFile(page, '[data-terminal^="sqlite"]', 'big.bin', { size });
    await files.locator('[data-path="big.bin"]').waitFor({ timeout: 60_000 });
    const seen = await page.evaluate(() => (window as unknown as { putting: string[] }).putting.map(Number));
    // Partway values, not only the start and the end: the bar moved as the 4 MiB chunks went in.
    expect(seen.some((n) => n > 0 && n < size), JSON.stringify(seen)).toBe(true);

    // The guest reads the whole file through 9p; its last bytes, in hex, are in no typed line.
    await typeInTerminal(page, 'sqlite', "select hex(substr(readfile('/mnt/host/big.bin'), -6));");
    const tail = Buffer.from(Uint8Array.from({ length: 6 }, (_, k) => ((size - 6 + k) * 31) & 0xff)).toString('hex').toUpperCase();
    await untilLine(page, 'sqlite', tail, 60_000);

    await dropFile(page, '[data-terminal^="sqlite"]', '..', 'x');
    const alert = files.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(/climb out of \/mnt\/host/);
  });

  it('a share link carries a small file inline: it is in /mnt/host before the script runs', async () => {
    expect(t.images.shell.share, 'shell was built without "share": rebuild it (npm run images -- build shell)').toBe(true);
    const { page, url } = t.lab;
    const greeting = `hello from a link ${Date.now()}\n`;
    await page.goto(`${url}#/share/shell`);
    const current = () => page.getByLabel('Share link').inputValue().catch(() => '');
    const initial = await pollFor('the link for the default script', async () => (await current()) || undefined);
    await page.getByLabel('Add files to the link').setInputFiles({ name: 'greeting.txt', mimeType: 'text/plain', buffer: Buffer.from(greeting) });
    // The guest's checksum of the file is in no typed line.
    await page.getByLabel('Demo script').fill(`> md5sum /mnt/host/greeting.txt\n${createHash('md5').update(greeting).digest('hex')}\n`);
    await page.getByText('/mnt/host/greeting.txt').waitFor();
    const link = await pollFor('a link with the file', async () => {
      const value = await current();
      return value && value !== initial ? value : undefined;
    });
    await screenshotBoth(page, 'share-with-files');

    await page.goto(link.replace(/^http:\/\/[^/]+\//, url));
    await pollFor('the file put and the script done', async () => (await page.locator('[data-file-state="ok"]').count()) === 1 && (await page.locator('[data-step-state="ok"]').count()) === 1, BOOT_MS);
    await screenshotBoth(page, 'share-files-open');

    const bad = { v: 1, i: [['shell', 'a'.repeat(64)]], s: [], f: [['../escape.txt', 'aGk']] };
    await page.goto(`${url}#/s/${deflateRawSync(JSON.stringify(bad)).toString('base64url')}`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(/not valid.*climb out/s);
  });
});
