// The compressions a .deb's members come in: xz (bookworm's default), zstd (Ubuntu, some newer
// packages), gzip (older packages), or none.
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { xz } from '@napi-rs/lzma';
import * as zstd from '@bokuweb/zstd-wasm';
import { initZstd, isZstd } from '../zstd.ts';

export { initZstd };

const gunzipAsync = promisify(gunzip);

/** Decompresses by the file name's suffix (`.xz`, `.zst`, `.gz`, or no suffix for plain). */
export async function decompressByName(name: string, data: Uint8Array): Promise<Uint8Array> {
  if (name.endsWith('.xz')) return xz.decompress(data);
  if (name.endsWith('.zst')) return zstdDecompress(data);
  if (name.endsWith('.gz')) return gunzipAsync(data);
  if (!/\.[a-z0-9]+$/.test(name) || name.endsWith('.tar')) return data;
  throw new Error(`${name}: unsupported compression (expected .xz, .zst, .gz or none)`);
}

/**
 * zstd via @bokuweb/zstd-wasm, whose one-shot decompress needs an output capacity: the frame header's
 * content size when present (first frame only), else a guess that is doubled until it fits (streaming
 * compressors, dpkg-deb among them, may leave the size out).
 */
export async function zstdDecompress(data: Uint8Array): Promise<Uint8Array> {
  await initZstd();
  if (!isZstd(data)) throw new Error('not zstd data (bad magic)');
  const limit = 2 ** 31 - 2 ** 20; // the wasm heap is 32-bit
  let capacity = Math.max(1 << 20, data.length * 8);
  for (;;) {
    try {
      return zstd.decompress(data, { defaultHeapSize: capacity });
    } catch (e) {
      if (capacity >= limit) throw e;
      capacity = Math.min(limit, capacity * 4);
    }
  }
}
