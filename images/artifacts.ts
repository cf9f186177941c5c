// Writes an image's artifacts: each is named by the sha256 of its raw bytes and stored zstd-compressed
// when that saves enough to be worth a decompression step on load.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initZstd, zstdCompress as compress } from './zstd.ts';
import { sha256Hex } from './hash.ts';
import { chunkFile, chunkedDigestText, type Artifact, type ArtifactRole } from './manifest.ts';

/** zstd level for artifacts: 19 is slow to write but the network and IndexedDB see every byte. */
const ZSTD_LEVEL = 19;
/** Keep the raw bytes when compression saves less than this fraction (e.g. an LZ4 bzImage). */
const MIN_SAVING = 0.05;

export async function zstdCompress(data: Uint8Array, level = ZSTD_LEVEL): Promise<Uint8Array> {
  await initZstd(); // shared: the wasm module breaks if initialised twice
  return compress(data, level);
}

/** Writes one artifact into `dir` and describes it; `compress: false` for a throwaway image booted at once (level 19 takes minutes on 100 MB). */
export async function writeArtifact(dir: string, role: ArtifactRole, name: string, raw: Uint8Array, opts: { compress?: boolean } = {}): Promise<Artifact> {
  const hash = sha256Hex(raw);
  if (opts.compress === false) {
    await writeFile(join(dir, name), raw);
    return { role, file: name, sha256: hash, size: raw.length, compressedSize: raw.length, compression: 'none' };
  }
  const packed = await zstdCompress(raw);
  const useZstd = packed.length < raw.length * (1 - MIN_SAVING);
  const file = useZstd ? `${name}.zst` : name;
  await writeFile(join(dir, file), useZstd ? packed : raw);
  return { role, file, sha256: hash, size: raw.length, compressedSize: useZstd ? packed.length : raw.length, compression: useZstd ? 'zstd' : 'none' };
}

/** Writes a large artifact as content-addressed chunks (identical chunks, e.g. zeros, stored once). */
export async function writeChunkedArtifact(dir: string, role: ArtifactRole, raw: Uint8Array, chunkSize = 1 << 20, level = 9): Promise<Artifact> {
  await mkdir(join(dir, 'chunks'), { recursive: true });
  const chunks: string[] = [];
  const written = new Map<string, number>();
  for (let off = 0; off < raw.length; off += chunkSize) {
    const chunk = raw.subarray(off, Math.min(off + chunkSize, raw.length));
    const hash = sha256Hex(chunk);
    chunks.push(hash);
    if (!written.has(hash)) {
      const packed = await zstdCompress(chunk, level);
      await writeFile(join(dir, chunkFile(hash, 'zstd')), packed);
      written.set(hash, packed.length);
    }
  }
  const compressedSize = [...written.values()].reduce((a, b) => a + b, 0);
  return { role, sha256: sha256Hex(chunkedDigestText(chunkSize, chunks)), size: raw.length, compressedSize, compression: 'zstd', chunkSize, chunks };
}
