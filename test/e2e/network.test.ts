// Machines that talk, in the page: redis and redis-client on the lab network of one tab (the first keeps
// running while the second is open), the client reaching the server, the diagram with both addresses and
// packets counted; then lighttpd's welcome page in the web page panel, and a page of the guest's own
// with a style sheet it loads from the guest through the service worker.

import { describe, expect, it } from 'vitest';
import { labAddress } from '../../worker/network.ts';
import { labForFile, pollFor, screenshotBoth, terminalLines, typeInTerminal } from './harness.ts';

const BOOT_MS = 240_000;

describe('the lab network in the page', () => {
  const t = labForFile('redis', 'redis-client', 'lighttpd');
  const redis = labAddress('redis');

  async function ready(image: string): Promise<void> {
    const { page } = t.lab;
    // The view of that image (the last one's may still be on the page for a moment after a link).
    const view = page.locator('section.machine').filter({ has: page.locator('h1', { hasText: new RegExp(`^${image}$`) }) });
    await pollFor(`${image} to reach its prompt`, () => view.locator('[data-status="ready"]').count(), BOOT_MS);
  }

  /** The diagram's nodes: address → packets sent and received as drawn. */
  async function drawn(): Promise<Record<string, { sent: number; received: number }>> {
    const nodes = t.lab.page.locator('[data-testid="net-node"]');
    const out: Record<string, { sent: number; received: number }> = {};
    for (const n of await nodes.all()) {
      const count = (await n.locator('[data-testid="net-count"]').textContent()) ?? '';
      const m = /↑([\d,]+) ↓([\d,]+)/.exec(count);
      out[(await n.getAttribute('data-address')) ?? ''] = { sent: Number(m?.[1].replace(/,/g, '') ?? 0), received: Number(m?.[2].replace(/,/g, '') ?? 0) };
    }
    return out;
  }

  it('redis-client talks to redis in another machine of the tab; the diagram shows both', async () => {
    const { page, url } = t.lab;
    await page.goto(`${url}#/machine/redis`);
    await ready('redis');
    const network = page.getByTestId('network');
    await expect(network.getByRole('radio', { name: 'Lab network' }).getAttribute('aria-checked')).resolves.toBe('true');
    await expect(network.getByTestId('net-address').textContent()).resolves.toBe(redis);

    // Open the client beside it: redis keeps running.
    await network.locator('select').selectOption('redis-client');
    await network.getByTestId('net-join').click();
    await page.waitForURL(/#\/machine\/redis-client$/);
    await ready('redis-client');
    const client = (await network.getByTestId('net-address').textContent()) ?? '';
    expect(client).toMatch(/^10\.0\.86\.\d+$/);
    expect(client).not.toBe(redis);

    await typeInTerminal(page, 'redis-client', `ping -c 2 ${redis}`);
    await pollFor('ping to answer', async () => (await terminalLines(page, 'redis-client')).some((l) => l.includes('2 packets received')), 60_000);
    await typeInTerminal(page, 'redis-client', `redis-cli -h ${redis} INCR n`);
    await pollFor('the first INCR to answer (integer) 1', async () => (await terminalLines(page, 'redis-client')).some((l) => l.trim() === '(integer) 1'), 60_000);
    await typeInTerminal(page, 'redis-client', `redis-cli -h ${redis} INCR n`);
    await pollFor('the second INCR to answer (integer) 2', async () => (await terminalLines(page, 'redis-client')).some((l) => l.trim() === '(integer) 2'), 60_000);

    // Both machines on the diagram, each with packets counted on its link (the counts come once a second).
    const nodes = await pollFor(
      'both machines drawn with packets counted',
      async () => {
        const d = await drawn();
        return d[redis]?.sent > 0 && d[redis]?.received > 0 && d[client]?.sent > 0 && d[client]?.received > 0 ? d : undefined;
      },
      20_000,
    );
    expect(Object.keys(nodes)).toEqual(expect.arrayContaining(['10.0.86.1', redis, client]));
    await expect(network.getByText(/redis ↔ redis-client/).textContent()).resolves.toMatch(/\d+ packets/);
    await screenshotBoth(page, 'network-lab');

    // Back to the server: it kept running, and its own console sees what the client wrote.
    await page.getByTestId('net-node').filter({ hasText: 'redis' }).filter({ hasNotText: 'client' }).locator('a').click();
    await page.waitForURL(/#\/machine\/redis$/);
    await ready('redis');
    await typeInTerminal(page, 'redis', 'GET n');
    await pollFor('redis to answer "2"', async () => (await terminalLines(page, 'redis')).some((l) => l.trim() === '"2"'), 30_000);
  });

  it("opens lighttpd's web page in the panel, with what the page loads from the guest", async () => {
    const { page, url } = t.lab;
    await page.goto(`${url}#/machine/lighttpd`);
    await ready('lighttpd');
    const panel = page.getByTestId('guest-page');
    await panel.getByText('the image serves TCP 80').waitFor();
    await panel.getByRole('button', { name: 'Open' }).click();
    const frame = await pollFor('the guest page in the panel', async () => page.frames().find((f) => f.url().includes('/guest/')), 60_000);
    await pollFor("lighttpd's welcome page title", async () => (await frame.title().catch(() => '')) === 'Welcome page', 60_000);
    await expect(panel.getByTestId('guest-answer').textContent()).resolves.toMatch(/HTTP 200 OK/);
    // Its own inline style applies (the page's policy allows styles, not scripts): body { background: #e7e7e7 }.
    await expect(frame.locator('body').evaluate((b) => getComputedStyle(b).backgroundColor)).resolves.toBe('rgb(231, 231, 231)');

    // A page of the guest's own that loads a style sheet from the guest.
    const html = '<html><head><title>Styled</title><link rel=stylesheet href=s.css></head><body><h1>made in the guest</h1></body></html>';
    await typeInTerminal(page, 'lighttpd', `echo '${html}' > /var/www/html/t.html; echo 'h1 { color: rgb(1, 2, 3) }' > /var/www/html/s.css`);
    await panel.getByLabel('Path on the guest').fill('/t.html');
    await panel.getByRole('button', { name: /Open|Reload/ }).click();
    const styled = await pollFor('the guest page of its own', async () => page.frames().find((f) => f.url().endsWith('/t.html')), 60_000);
    const color = await pollFor('the style sheet from the guest applied', async () => {
      const c = await styled.locator('h1').evaluate((h) => getComputedStyle(h).color).catch(() => '');
      return c === 'rgb(1, 2, 3)' ? c : undefined;
    });
    expect(color).toBe('rgb(1, 2, 3)');
    await expect(panel.locator('table').textContent()).resolves.toMatch(/GET \/s\.css\s*200/);
    await panel.scrollIntoViewIfNeeded();
    await screenshotBoth(page, 'network-web-page');
    // No CSP violation, nothing thrown, by the panel, its service worker or the machines.
    expect(t.lab.errors).toEqual([]);
  });

  it("on the web: v86's router, what CORS allows said plainly, the page through the router, a refused fetch counted", async () => {
    const { page, url } = t.lab;
    await page.goto(`${url}#/machine/lighttpd`);
    await ready('lighttpd');
    const network = page.getByTestId('network');
    await network.getByRole('radio', { name: 'Web' }).click();
    await expect(network.getByTestId('cors-note').textContent()).resolves.toMatch(/only what CORS allows/);
    await network.getByRole('button', { name: 'Boot again now' }).click();
    await pollFor('the machine to boot again on the web', async () => (await network.getByTestId('net-address').textContent().catch(() => '')) === '192.168.86.100', BOOT_MS);
    await ready('lighttpd');

    const panel = page.getByTestId('guest-page');
    await panel.getByLabel('Path on the guest').fill('/');
    await panel.getByRole('button', { name: 'Open' }).click();
    const frame = await pollFor('the guest page in the panel', async () => page.frames().find((f) => f.url().includes('/guest/')), 60_000);
    await pollFor("lighttpd's welcome page title, through v86's router", async () => (await frame.title().catch(() => '')) === 'Welcome page', 60_000);

    // The guest's own HTTP goes out as this page's fetch(); a name that cannot answer (.invalid never
    // resolves) fails as a site refused by CORS would: the guest gets v86's 502, the diagram counts it.
    await typeInTerminal(page, 'lighttpd', 'busybox wget -O - http://nothing.invalid/');
    await pollFor('the guest to get a 502', async () => (await terminalLines(page, 'lighttpd')).some((l) => /502/.test(l)), 60_000);
    await pollFor('the diagram to count the failed fetch', () => network.getByText('0 fetched · 1 failed').count(), 20_000);
    await screenshotBoth(page, 'network-web');
  });
});
