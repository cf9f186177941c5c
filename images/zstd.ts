// The one zstd wrapper, for every layer: the builder (artifacts, .deb members), the machine (stored
// artifacts, saved states) and the page. One init guard per process: @bokuweb/zstd-wasm's init()
// re-instantiates its module on every call, and a second call leaves it broken for a while (decompress
// then fails with code -10). It resolves to its Node build in Node and its web build in a bundle.

import { compress, decompress, init as initWasm } from '@bokuweb/zstd-wasm';

// The web build's init takes the wasm URL; the Node build's (whose types TypeScript picks) takes nothing.
const init = initWasm as (wasmUrl?: string) => Promise<void>;

/** The first four bytes of every zstd frame (0xFD2FB528, little-endian). */
export const ZSTD_MAGIC = 0xfd2fb528;

let ready: Promise<void> | undefined;

/**
 * Loads the zstd wasm once. `wasmUrl` is for bundled browser code, where the wasm file is an emitted
 * asset; the Node build finds its wasm itself.
 */
export function initZstd(wasmUrl?: string): Promise<void> {
  ready ??= init(wasmUrl).catch((e: unknown) => {
    ready = undefined;
    throw new Error('could not load the zstd decompressor (wasm)', { cause: e });
  });
  return ready;
}

export function isZstd(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === ZSTD_MAGIC;
}

/** Decompresses one zstd frame whose content is `rawSize` bytes. Call `initZstd()` first. */
export function zstdDecompress(bytes: Uint8Array, rawSize: number): Uint8Array {
  return decompress(bytes, { defaultHeapSize: Math.max(rawSize, 1) });
}

export function zstdCompress(bytes: Uint8Array, level: number): Uint8Array {
  return compress(bytes, level);
}
