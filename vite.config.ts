// Vite config for the lab page (web/): serves the built images at /images/ in dev and preview, lists them
// in /images/index.json, copies them into the build, emits v86's wasm for the machine worker, and sets
// the built page's Content Security Policy.
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, link, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const root = dirname(fileURLToPath(import.meta.url));
/** Where built images live; WHITTLE_IMAGES_DIR points elsewhere (e.g. a fixture) for development. */
const imagesDir = resolve(process.env.WHITTLE_IMAGES_DIR ?? join(root, 'images/dist'));

/**
 * The page's Content Security Policy: written into the built index.html as a `<meta http-equiv>` (for
 * static hosts that set no headers) and sent as a header by `vite preview` — the header also governs the
 * machine's Web Worker, which a `<meta>` in the page does not. Deploying elsewhere: send this header.
 * The dev server sets none (Vite's client and hot reload need more).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  // The bundle and the machine worker, from this origin only; v86 compiles wasm (its own module and,
  // as it runs, the guest code it translates) and so does zstd: 'wasm-unsafe-eval', not 'unsafe-eval'.
  "script-src 'self' 'wasm-unsafe-eval'",
  // v86 runs its timer in a tiny Worker it makes from a blob: URL (libv86's register_yield); a blob:
  // URL can only be made by script already running here.
  "worker-src 'self' blob:",
  // xterm.js writes its renderer's CSS into <style> elements it creates, and Svelte may set style
  // attributes: both need 'unsafe-inline' for styles (never for scripts).
  "style-src 'self' 'unsafe-inline'",
  // The favicon is a data: URL.
  "img-src 'self' data:",
  // A share link's manifest and artifacts may live on any site (read with fetch, verified by sha256).
  "connect-src 'self' https: http:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'none'",
].join('; ');

/** The catalog the library reads: one entry per image folder holding a manifest.json. */
export interface ImageIndex {
  schema: 1;
  images: { name: string; manifest: string }[];
}

async function listImages(dir: string): Promise<ImageIndex> {
  const names = existsSync(dir) ? await readdir(dir, { withFileTypes: true }) : [];
  const images = names
    // Hidden folders are builds in progress (`.debian.building-*`): not images yet.
    .filter((d) => !d.name.startsWith('.') && (d.isDirectory() || d.isSymbolicLink()) && existsSync(join(dir, d.name, 'manifest.json')))
    .map((d) => ({ name: d.name, manifest: `${d.name}/manifest.json` }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { schema: 1, images };
}

const types: Record<string, string> = {
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

/** Serves `imagesDir` at /images/ (GET and HEAD), and the generated index at /images/index.json. */
async function serveImages(req: IncomingMessage, res: ServerResponse, next: () => void): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  if (!url.pathname.startsWith('/images/') || (req.method !== 'GET' && req.method !== 'HEAD')) return next();
  const rel = decodeURIComponent(url.pathname.slice('/images/'.length));
  if (rel === 'index.json') {
    const body = JSON.stringify(await listImages(imagesDir));
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Cache-Control', 'no-cache');
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  const file = resolve(imagesDir, rel);
  if (!file.startsWith(imagesDir + sep)) return next();
  const info = await stat(file).catch(() => null);
  if (!info?.isFile()) {
    res.statusCode = 404;
    res.end(`not found: /images/${rel}`);
    return;
  }
  res.setHeader('Content-Type', types[extname(file)] ?? 'application/octet-stream');
  res.setHeader('Content-Length', String(info.size));
  // Manifests change with each build; artifacts are content-addressed by the manifest, so no-cache on
  // both keeps it simple and correct (the page stores artifacts in IndexedDB anyway).
  res.setHeader('Cache-Control', 'no-cache');
  if (req.method === 'HEAD') return void res.end();
  createReadStream(file).pipe(res);
}

/** Hard-links (or copies, across file systems) every file under `from` to `to`. */
async function mirror(from: string, to: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(from, { withFileTypes: true, recursive: true })) {
    const src = join(entry.parentPath, entry.name);
    if (relative(from, src).split(sep).some((part) => part.startsWith('.'))) continue; // builds in progress
    // Follow symbolic links (a development images dir may link to builds elsewhere).
    if (!(entry.isFile() || (entry.isSymbolicLink() && (await stat(src).catch(() => null))?.isFile()))) continue;
    const dst = join(to, relative(from, src));
    await mkdir(dirname(dst), { recursive: true });
    await link(src, dst).catch(() => copyFile(src, dst));
    n++;
  }
  return n;
}

function whittleImages(): Plugin {
  let outDir = '';
  return {
    name: 'whittle-images',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => void serveImages(req, res, next).catch(next));
    },
    // Preview serves images from images/dist directly too, so images built after the app show up.
    configurePreviewServer(server) {
      server.middlewares.use((_req, res, next) => {
        res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
        next();
      });
      server.middlewares.use((req, res, next) => void serveImages(req, res, next).catch(next));
    },
    // First in <head>: a policy in a <meta> governs only what comes after it.
    transformIndexHtml(_html, ctx) {
      if (ctx.server) return;
      return [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY }, injectTo: 'head-prepend' }];
    },
    async writeBundle() {
      const target = join(outDir, 'images');
      const count = existsSync(imagesDir) ? await mirror(imagesDir, target) : 0;
      await mkdir(target, { recursive: true });
      const index = await listImages(imagesDir);
      await writeFile(join(target, 'index.json'), JSON.stringify(index));
      // GitHub Pages published from a branch runs Jekyll, which drops files whose names start with `_`
      // (Vite emits some): this empty file turns it off. Other hosts ignore it.
      await writeFile(join(outDir, '.nojekyll'), '');
      this.info(`images: ${index.images.length} manifests, ${count} files from ${imagesDir}`);
      if (index.images.length === 0) this.warn(`no images in ${imagesDir}: run \`npm run images\` to build them`);
    },
  };
}

export default defineConfig({
  root: join(root, 'web'),
  // Relative URLs throughout the build (assets, the machine worker, the service worker, images), so the
  // site works wherever it is put: at a host's root or under a sub-path such as a GitHub project page.
  base: './',
  publicDir: false,
  plugins: [svelte({ configFile: false }), whittleImages()],
  worker: { format: 'es' },
  build: {
    outDir: join(root, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    // One page with xterm.js (~300 KB of it) and Svelte: ~500 KB, 140 KB gzipped. Not worth splitting.
    chunkSizeWarningLimit: 800,
    // The v86 wasm is ~2 MB; keep it a separate file (never inlined as base64).
    assetsInlineLimit: (file) => (file.endsWith('.wasm') ? false : undefined),
  },
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [root] } },
  preview: { host: '127.0.0.1', port: 4173 },
});
