// The machine's dedicated module Web Worker: one v86 per worker, driven by protocol.ts messages.
// Start it through MachineBridge (bridge.ts); the page never imports this file or v86.

import { MachineEndpoint } from './endpoint.ts';
import { MachineFailure } from './errors.ts';
import { imageStore, keepingReader, storeReader } from './image-store.ts';
import { fileReader, urlReader } from './readers.ts';
import { initZstd } from './zstd.ts';

declare const self: DedicatedWorkerGlobalScope;

// Relative URLs so the bundler emits both wasm files as assets next to the worker.
const V86_WASM = new URL('../node_modules/v86/build/v86.wasm', import.meta.url).href;
const ZSTD_WASM = new URL('../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm', import.meta.url).href;

let v86Module: Promise<WebAssembly.Module> | undefined;

async function compileV86(): Promise<WebAssembly.Module> {
  const res = await fetch(V86_WASM);
  if (!res.ok) throw new MachineFailure('emulator-crashed', `Could not load the emulator (${V86_WASM}: HTTP ${res.status}).`, 'Check the network connection and reload the page.');
  try {
    return await WebAssembly.compileStreaming(res.clone());
  } catch {
    // Servers that do not send application/wasm: compile from bytes instead.
    return WebAssembly.compile(await res.arrayBuffer());
  }
}

void initZstd(ZSTD_WASM).catch(() => undefined); // errors surface when zstd is first needed

const endpoint = new MachineEndpoint({
  post: (msg, transfer) => self.postMessage(msg, transfer),
  v86Module: () => (v86Module ??= compileV86().catch((e: unknown) => {
    v86Module = undefined;
    throw e;
  })),
  states: { put: (meta, bytes) => imageStore.putState(meta, bytes), get: (id) => imageStore.getState(id) },
  reader(source, { manifest, emit }) {
    switch (source.from) {
      case 'store':
        return storeReader;
      case 'url':
        // Kept as read: a large disk boots without being stored first, and the next boot reads what it read from here.
        return source.keep ? keepingReader(urlReader(source.baseUrl), manifest, (r) => emit('kept', r)) : urlReader(source.baseUrl);
      case 'file':
        return fileReader(source.files);
      case 'path':
        throw new MachineFailure('bad-message', 'A browser cannot read images from a directory path.', 'Store the image in the library first.');
    }
  },
});

self.onmessage = (e: MessageEvent) => endpoint.receive(e.data);
self.onmessageerror = () => endpoint.receive({ type: 'unreadable' });
self.addEventListener('error', (e) => {
  e.preventDefault();
  endpoint.fatal(e.error ?? new Error(e.message));
});
self.addEventListener('unhandledrejection', (e) => {
  e.preventDefault();
  endpoint.fatal(e.reason);
});
