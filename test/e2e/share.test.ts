// Share links: made in the share view, opened in a browser that has nothing stored, they fetch and
// verify the pinned image, boot it and replay the script, so the viewer sees the expected output. A
// damaged link or a different build gets a clear message instead.

import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Lab, openLab, pollFor, requireImage, screenshot, stopServer, terminalLines } from './harness.ts';

/** A link's data made here with Node's zlib, independent of the page's encoder. */
function linkData(wire: unknown): string {
  return deflateRawSync(JSON.stringify(wire)).toString('base64url');
}

describe('share links', () => {
  let maker: Lab;
  let viewer: Lab;
  let link = '';

  beforeAll(async () => {
    await requireImage('shell');
    maker = await openLab();
    viewer = await openLab();
  });
  afterAll(async () => {
    await maker?.close();
    await viewer?.close();
    await stopServer();
  });

  it('makes a link with a demo script in the share view', async () => {
    const { page, url } = maker;
    await page.goto(`${url}#/share/shell`);
    const current = () => page.getByLabel('Share link').inputValue().catch(() => '');
    // The view starts from shell's own smoke script; wait for its link so the next one is ours.
    const initial = await pollFor('the link for the default script', async () => (await current()) || undefined);
    // The expected text is computed by the guest, so the typed line's echo cannot match it.
    await page.getByLabel('Demo script').fill('> echo share-$((6*7))\nshare-42\n> echo $((1+1))x\n2x\n');
    link = await pollFor('a link with the new script', async () => {
      const value = await current();
      return value && value !== initial ? value : undefined;
    });
    expect(link).toMatch(/#\/s\/[A-Za-z0-9_-]+$/);
    await page.getByText('2 steps').waitFor();
    await screenshot(page, 'share');
  });

  it('opens in a fresh browser: fetches and verifies, boots, replays the script', async () => {
    const { page } = viewer;
    await page.goto(link.replace(/^http:\/\/[^/]+\//, viewer.url));
    await pollFor('the script to finish', async () => (await page.locator('[data-step-state="ok"]').count()) === 2, 180_000);
    // The terminal draws on the next frame: wait for the text rather than read it once.
    let lines: string[] = [];
    try {
      await pollFor('share-42 and 2x on lines of their own', async () => {
        lines = (await terminalLines(page, 'shell')).map((l) => l.trim());
        return lines.includes('share-42') && lines.includes('2x');
      });
    } catch (e) {
      await screenshot(page, 'share-open-failed');
      throw new Error(`${(e as Error).message}\nterminal:\n${lines.join('\n')}`, { cause: e });
    }
    await screenshot(page, 'share-open');
  });

  it('explains a damaged link', async () => {
    const { page, url } = viewer;
    await page.goto(`${url}#/s/${linkData({ v: 1 }).slice(0, -3)}x`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(/damaged|not valid/);
    await screenshot(page, 'share-bad-link');
  });

  it('refuses an image whose hash differs from the pinned one', async () => {
    const { page, url } = viewer;
    await page.goto(`${url}#/s/${linkData({ v: 1, i: [['shell', 'f'.repeat(64)]], s: [] })}`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.innerText()).toMatch(/different build/);
  });
});
