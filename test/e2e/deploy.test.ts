// Deploying: `vite build` (npm run build) makes a static site that a plain static server serves under a
// sub-path, as a GitHub project page is (/<repo>/), with no headers but MIME types. On it, a share link
// to the `debian` twin boots streaming: its kernel phase begins after a few of the disk's chunks were
// fetched, not the whole disk; what it read is kept in IndexedDB, so booting it again fetches none of that.

import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../images/manifest.ts';
import { type Lab, openBrowser, pollFor, requireImage, ROOT, screenshotBoth } from './harness.ts';

const BASE = '/whittle/';
/** What a static host knows: a type per extension, nothing else (no CSP, no cross-origin isolation). */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.zst': 'application/zstd',
};

interface Site {
  url: string;
  /** Paths requested under the site, in order. */
  hits: string[];
  /** Paths requested outside the sub-path: each would be a 404 on a project page. */
  outside: string[];
  close(): Promise<void>;
}

/** A plain static file server for `dir` at BASE: GET and HEAD, files only, index.html for the folder. */
async function serve(dir: string): Promise<Site> {
  const hits: string[] = [];
  const outside: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (!path.startsWith(BASE)) {
      outside.push(path);
      res.writeHead(404).end();
      return;
    }
    hits.push(path.slice(BASE.length));
    let file = normalize(join(dir, path.slice(BASE.length)));
    if (!file.startsWith(dir + sep) && file !== dir) return void res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': statSync(file).size });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}${BASE}`, hits, outside, close: () => new Promise((ok) => server.close(() => ok())) };
}

describe('deploying the lab as a static site', () => {
  let out = '';
  let site: Site;
  let lab: Lab;
  let debian: Manifest;

  beforeAll(async () => {
    await requireImage('shell');
    debian = await requireImage('debian');
    out = mkdtempSync(join(tmpdir(), 'whittle-site-'));
    // What `npm run build` runs, into a folder of its own.
    execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--outDir', out, '--emptyOutDir', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
    site = await serve(out);
    lab = await openBrowser(site.url);
  });
  afterAll(async () => {
    await lab?.close();
    await site?.close();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('boots shell from a plain static server under a sub-path', async () => {
    const { page } = lab;
    await page.goto(`${site.url}#/machine/shell`);
    await pollFor('shell to reach its prompt', () => page.locator('[data-status="ready"]').count(), 120_000);
    // The page, its worker and service worker, v86's wasm, the catalog and the image: all under /whittle/.
    expect(site.outside).toEqual([]);
    expect(site.hits).toEqual(expect.arrayContaining(['', 'images/index.json', 'images/shell/manifest.json']));
    expect(site.hits.some((h) => /^assets\/main-.*\.js$/.test(h))).toBe(true);
    expect(site.hits.some((h) => /^assets\/v86-.*\.wasm$/.test(h))).toBe(true);
  });

  describe('a share link to the debian twin', () => {
    const disk = () => debian.artifacts.find((a) => a.role === 'disk')!;
    const isChunk = (h: string) => h.startsWith('images/debian/chunks/');
    let link = '';
    let firstRun: string[] = [];

    /**
     * Opens the link, waits for the kernel phase (then, with `moreChunks`, until that many disk chunks
     * were fetched in all), and returns what was fetched until the kernel phase and in all.
     */
    async function bootToKernel(moreChunks = 0): Promise<{ before: string[]; all: string[]; kept: number; fromStore: number }> {
      const { page } = lab;
      const start = site.hits.length;
      await page.goto(link);
      await pollFor('the twin to reach its kernel phase', () => page.locator('[data-phase="kernel"], [data-phase="userspace"]').count(), 120_000);
      const before = site.hits.slice(start);
      if (moreChunks) await pollFor(`${moreChunks} disk chunks fetched`, async () => site.hits.slice(start).filter(isChunk).length >= moreChunks, 240_000, 100);
      // Every file fetched so far kept in this browser before the machine is stopped.
      const note = page.locator('[data-kept]');
      const counts = await pollFor(
        'what was fetched to be kept',
        async () => {
          const [k, f, s] = await Promise.all(['data-kept', 'data-fetched', 'data-from-store'].map(async (a) => Number(await note.getAttribute(a))));
          return k === f ? { kept: k, fromStore: s } : undefined;
        },
        60_000,
      );
      return { before, all: site.hits.slice(start), ...counts };
    }

    beforeAll(async () => {
      // Made as a user makes it, in the share view (its default script is the twin's smoke script).
      const { page } = lab;
      await page.goto(`${site.url}#/share/debian`);
      link = await pollFor('the share link', async () => (await page.getByLabel('Share link').inputValue().catch(() => '')) || undefined);
      expect(link.startsWith(`${site.url}#/s/`)).toBe(true);
    });

    it('starts booting before its disk is downloaded, and keeps what it read', async () => {
      const { page } = lab;
      // Past the kernel phase until the guest has read some of the disk, for the next boot to find kept.
      const { before, all, kept } = await bootToKernel(12);
      const chunks = new Set(disk().chunks).size;
      const fetchedChunks = before.filter(isChunk);
      console.log(`debian: ${fetchedChunks.length} of ${chunks} disk chunks fetched before the kernel phase; ${kept} files kept`);
      expect(fetchedChunks.length).toBeLessThan(chunks / 20);
      // The kernel and initrd are loaded whole (v86 takes them as buffers); the disk is read on demand.
      const whole = debian.artifacts.filter((a) => a.role === 'kernel' || a.role === 'initrd').map((a) => `images/debian/${a.file}`);
      expect(before).toEqual(expect.arrayContaining(whole));
      expect(kept).toBeGreaterThanOrEqual(all.filter(isChunk).length);
      await page.getByText(/Streaming, not stored first/).waitFor();
      await screenshotBoth(page, 'deploy-share-debian-streaming');
      firstRun = [...new Set(all.filter((h) => h.startsWith('images/debian/') && h !== 'images/debian/manifest.json'))];
      expect(firstRun).toEqual(expect.arrayContaining(whole));

      // Leaving stops the machine. The library says partly stored, never stored.
      await page.goto(`${site.url}#/library`);
      const card = page.locator('[data-image="debian"]');
      await pollFor('the twin to show as partly stored', async () => (await card.locator('[data-stored]').getAttribute('data-stored')) === 'partial', 20_000);
      expect(site.outside).toEqual([]);
    });

    it('boots again reading what it kept from IndexedDB, not the network', async () => {
      expect(firstRun.length).toBeGreaterThan(0);
      const start = site.hits.length;
      await bootToKernel();
      // As far as the first boot went: the guest reads those files again, now from this browser.
      const note = lab.page.locator('[data-kept]');
      const fromStore = await pollFor(
        'the second boot to read what the first one fetched',
        async () => {
          const n = Number(await note.getAttribute('data-from-store'));
          return n >= firstRun.length ? n : undefined;
        },
        240_000,
      );
      const again = site.hits.slice(start).filter((h) => firstRun.includes(h));
      console.log(`debian again: ${fromStore} files read from IndexedDB; fetched again: ${again.length} of the ${firstRun.length} the first boot fetched`);
      expect(again).toEqual([]);
      await screenshotBoth(lab.page, 'deploy-share-debian-kept');
      await lab.page.goto(`${site.url}#/library`);
    });
  });
});
