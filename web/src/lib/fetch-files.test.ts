import 'fake-indexeddb/auto';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Manifest } from '../../../images/manifest.ts';
import { sha256Hex, storedFiles } from '../../../worker/artifacts.ts';
import { imageStore } from '../../../worker/image-store.ts';
import { estimateBytes, storeImage } from './fetch-files.ts';

const sha = (c: string) => c.repeat(64);

describe('estimateBytes', () => {
  const manifest = {
    artifacts: [
      { role: 'kernel', file: 'k.zst', sha256: sha('1'), size: 1000, compressedSize: 400, compression: 'zstd' },
      // Four 256-byte chunks, two of them identical (zeros): 768 unique raw bytes, 300 bytes to download.
      { role: 'disk', sha256: sha('2'), size: 1024, compressedSize: 300, compression: 'zstd', chunkSize: 256, chunks: [sha('a'), sha('0'), sha('b'), sha('0')] },
    ],
  } as unknown as Manifest;

  it('counts whole artifacts exactly and shares a chunked one among its unique chunks', () => {
    const files = storedFiles(manifest);
    expect(files).toHaveLength(4);
    expect(estimateBytes(manifest, files)).toBe(700);
    expect(estimateBytes(manifest, files.filter((f) => f.sha256 === sha('a')))).toBe(100);
  });
});

describe('storeImage', () => {
  const content: Record<string, string> = { 'bios.bin': 'BIOS', 'bzImage': 'KERNEL', 'initrd': 'INITRD' };
  let manifest: Manifest;
  beforeAll(async () => {
    const files = [
      { role: 'bios', file: 'bios.bin' },
      { role: 'kernel', file: 'bzImage' },
      { role: 'initrd', file: 'initrd' },
    ];
    const artifacts = await Promise.all(files.map(async ({ role, file }) => ({ role, file, sha256: await sha256Hex(content[file]), size: content[file].length, compressedSize: content[file].length, compression: 'none' })));
    manifest = { name: 'shell', artifacts } as unknown as Manifest;
  });
  const served = (fail?: string) =>
    vi.fn(async (url: string | URL) => {
      const file = new URL(url).pathname.split('/').pop()!;
      // Failing last, once the other files are written.
      if (file === fail) return new Promise<Response>((ok) => setTimeout(() => ok(new Response('gone', { status: 404, statusText: 'Not Found' })), 50));
      return new Response(content[file]);
    });

  beforeEach(() => imageStore.clearAll());
  afterEach(() => vi.unstubAllGlobals());

  it('writes the files, then the manifest that says the image is complete', async () => {
    vi.stubGlobal('fetch', served());
    await storeImage(manifest, 'http://lab.test/images/shell/manifest.json', () => undefined);
    expect((await imageStore.listImages()).map((m) => m.name)).toEqual(['shell']);
    expect(await imageStore.missingFiles(manifest)).toEqual([]);
  });

  it('leaves no manifest and no files behind when a download fails', async () => {
    vi.stubGlobal('fetch', served('initrd'));
    let written = 0;
    await expect(storeImage(manifest, 'http://lab.test/images/shell/manifest.json', (p) => (written = p.filesDone))).rejects.toThrow(/answered 404/);
    expect(written).toBe(2);
    expect(await imageStore.listImages()).toEqual([]);
    expect(await imageStore.missingFiles(manifest)).toHaveLength(3); // the two that arrived were collected
  });
});
