// An appliance's services in the real guest: /init and the console wrapper that images/init.ts
// generates for `init.services` + `init.waitFor`, run by the `shell` image's busybox (ash, not the
// host's sh) on its kernel. The scripts go in as a second cpio archive after the image's own
// initramfs (the kernel unpacks both; later entries replace earlier ones), so no build is needed.

import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeCpio } from '../../images/cpio.ts';
import { consoleScript, initScript } from '../../images/init.ts';
import type { Manifest } from '../../images/manifest.ts';
import { parseRecipe } from '../../images/recipe.ts';
import { NodeMachine, loadManifest } from '../../worker/node/host.ts';
import { initZstd, zstdCompress, zstdDecompress } from '../../worker/zstd.ts';

const SHELL = resolve(process.env.WHITTLE_SHELL_IMAGE ?? 'images/dist/shell');
const READY_MS = 120_000;
const enc = new TextEncoder();

let manifest: Manifest;
const temps: string[] = [];
const machines: NodeMachine[] = [];

beforeAll(async () => {
  try {
    manifest = await loadManifest(SHELL);
  } catch (e) {
    throw new Error(`No shell image at ${SHELL}: build it first (npm run images -- build shell), or set WHITTLE_SHELL_IMAGE.`, { cause: e });
  }
  await initZstd();
});

afterAll(async () => {
  await Promise.all(machines.map((m) => m.stop()));
  await Promise.all(temps.map((d) => rm(d, { recursive: true, force: true })));
});

/** A copy of `shell` whose /init starts `service` and whose console waits for `port`, then runs busybox sh. */
async function shellWithService(service: string, port: number): Promise<string> {
  const recipe = parseRecipe(
    { title: 'T', description: 'D', app: 'shell', packages: ['busybox-static'], init: { console: 'busybox sh', services: [service], waitFor: [port] }, readyMarker: '# ' },
    'shell',
  );
  const dir = await mkdtemp(join(tmpdir(), 'whittle-services-'));
  temps.push(dir);
  await cp(SHELL, dir, { recursive: true });
  const initrd = manifest.artifacts.find((a) => a.role === 'initrd')!;
  const own = zstdDecompress(await readFile(join(SHELL, initrd.file!)), initrd.size);
  const overlay = writeCpio(
    [
      { path: 'init', type: 'file', mode: 0o755, data: enc.encode(initScript(recipe)) },
      { path: 'etc/whittle/console', type: 'file', mode: 0o755, data: enc.encode(consoleScript(recipe)) },
    ],
    0,
  );
  const raw = new Uint8Array(own.length + overlay.length);
  raw.set(own);
  raw.set(overlay, own.length);
  const packed = zstdCompress(raw);
  await writeFile(join(dir, initrd.file!), packed);
  const artifacts = manifest.artifacts.map((a) =>
    a === initrd ? { ...a, size: raw.length, compressedSize: packed.length, sha256: createHash('sha256').update(raw).digest('hex') } : a,
  );
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, artifacts, readyMarker: '# ', smoke: [] }));
  return dir;
}

async function boot(dir: string): Promise<NodeMachine> {
  const m = new NodeMachine(dir, await loadManifest(dir));
  machines.push(m);
  await m.boot();
  return m;
}

describe('services and the console wait (init.services + init.waitFor)', () => {
  it('starts the console once the service listens on its port', async () => {
    const m = await boot(await shellWithService('busybox nc -l -p 6379', 6379));
    await m.ready(READY_MS);
    m.type('busybox grep -c "00000000:18EB 00000000:0000 0A" /proc/net/tcp');
    expect(await m.waitFor(/\r?\n1\r?\n/, 20_000)).toBeTruthy();
    expect(m.output).not.toContain('whittle:');
  }, 180_000);

  it('says which service failed, with its status, and the machine runs on with its console', async () => {
    const m = await boot(await shellWithService("busybox sh -c 'exit 3'", 6379));
    const error = await m.ready(READY_MS).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string },
    );
    expect(error?.code).toBe('guest-service-failed');
    expect(error?.message).toBe("The appliance's service busybox exited with status 3 before it listened on port 6379; the console started without it.");
    expect(m.output).toContain('whittle: busybox exited with status 3 before port 6379 listened; the console starts without it');
    // The console started anyway: a person can look.
    await m.waitFor('# ', 30_000);
    m.type('echo $((40+2))');
    expect(await m.waitFor(/\r?\n42\r?\n/, 20_000)).toBeTruthy();
  }, 180_000);
});
