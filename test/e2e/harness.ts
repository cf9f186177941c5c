// Browser test harness: builds the app if its sources changed, serves the build with `vite preview`,
// drives Debian's Chromium through playwright-core with a fresh profile, and reads terminals.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { preview, type PreviewServer } from 'vite';
import type { Manifest } from '../../images/manifest.ts';
import { initZstd, zstdDecompress } from '../../worker/zstd.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DIST = join(ROOT, 'dist');
const STAMP = join(DIST, '.whittle-build-stamp');
export const IMAGES = resolve(process.env.WHITTLE_IMAGES_DIR ?? join(ROOT, 'images/dist'));
export const SCREENSHOTS = join(ROOT, 'test-results/screenshots');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Fails the test with what to do when an image the test needs has not been built. */
export async function requireImage(name: string): Promise<Manifest> {
  const file = join(IMAGES, name, 'manifest.json');
  if (!existsSync(file)) {
    throw new Error(`The browser tests need the built image "${name}" (${file} is missing). Build it first: npm run images -- build ${name}`);
  }
  return JSON.parse(await readFile(file, 'utf8')) as Manifest;
}

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile() || e.parentPath.includes('node_modules') || e.name.endsWith('.test.ts')) continue;
    t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** Builds the app unless the last build is newer than every source it is made from. */
export function buildIfStale(): void {
  const sources = Math.max(newest(join(ROOT, 'web')), newest(join(ROOT, 'worker')), statSync(join(ROOT, 'images/manifest.ts')).mtimeMs, statSync(join(ROOT, 'vite.config.ts')).mtimeMs);
  if (existsSync(STAMP) && statSync(STAMP).mtimeMs > sources) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
  writeFileSync(STAMP, new Date().toISOString());
}

export interface Lab {
  url: string;
  context: BrowserContext;
  page: Page;
  /** Console errors and page errors seen so far (a test can assert there were none). */
  errors: string[];
  close(): Promise<void>;
}

let server: PreviewServer | undefined;

/** Serves the built app (once per test file) and opens a browser with a fresh profile. */
export async function openLab(): Promise<Lab> {
  buildIfStale();
  server ??= await preview({ root: ROOT, configFile: join(ROOT, 'vite.config.ts'), logLevel: 'warn', preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview did not report its URL');
  return openBrowser(url);
}

/** Opens a browser with a fresh profile on a lab served at `url` (by `openLab`'s preview, or any server). */
export async function openBrowser(url: string): Promise<Lab> {
  const profile = mkdtempSync(join(tmpdir(), 'whittle-e2e-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: FLAGS,
    headless: true,
    viewport: { width: 1360, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return {
    url,
    context,
    page,
    errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function stopServer(): Promise<void> {
  await server?.close();
  server = undefined;
}

/** Polls `fn` until it returns a truthy value; fails with `what` and the last value after `timeoutMs`. */
export async function pollFor<T>(what: string, fn: () => Promise<T>, timeoutMs = 30_000, everyMs = 200): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}${lastError ? `; error: ${String(lastError)}` : ''}`);
}

/** The visible rows of a terminal (by its label's start, e.g. "shell"), as text lines. */
export async function terminalLines(page: Page, label: string): Promise<string[]> {
  return page.evaluate((l) => {
    const host = Array.from(document.querySelectorAll<HTMLElement>('[data-terminal]')).find((e) => e.dataset.terminal?.startsWith(l));
    const rows = host?.querySelectorAll('.xterm-rows > div') ?? [];
    return Array.from(rows).map((r) => (r.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd());
  }, label);
}

/** Types a line into a terminal (focusing it first) and presses Enter. */
export async function typeInTerminal(page: Page, label: string, line: string): Promise<void> {
  await page.locator(`[data-terminal^="${label}"] .xterm`).click();
  await page.keyboard.type(line, { delay: 15 });
  await page.keyboard.press('Enter');
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // From the top, so the sticky header sits where it belongs in a full-page picture.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Screenshots at desktop (1280×800) and phone (390×844, `<name>-phone`) size; leaves the desktop size set. */
export async function screenshotBoth(page: Page, name: string): Promise<void> {
  await page.setViewportSize({ width: 1280, height: 800 });
  await screenshot(page, name);
  await page.setViewportSize({ width: 390, height: 844 });
  await screenshot(page, `${name}-phone`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** An artifact of a built image as the guest sees it (decompressed), e.g. to import it by hand. */
export async function rawArtifact(m: Manifest, role: 'vmlinux' | 'initrd'): Promise<Buffer> {
  const a = m.artifacts.find((x) => x.role === role);
  if (!a) throw new Error(`${m.name} has no ${role} artifact: rebuild it (npm run images -- build ${m.name})`);
  const stored = await readFile(join(IMAGES, m.name, a.file!));
  if (a.compression === 'none') return stored;
  await initZstd();
  return Buffer.from(zstdDecompress(stored, a.size));
}

/**
 * This test file's lab: checks the built images it needs (their manifests in `images`), opens one
 * browser on the served app before its tests and closes both after them.
 */
export function labForFile<const N extends string>(...names: N[]): { lab: Lab; images: Record<N, Manifest> } {
  const t = { images: {} } as { lab: Lab; images: Record<N, Manifest> };
  beforeAll(async () => {
    for (const n of names) t.images[n] = await requireImage(n);
    t.lab = await openLab();
  });
  afterAll(async () => {
    await t.lab?.close();
    await stopServer();
  });
  return t;
}
