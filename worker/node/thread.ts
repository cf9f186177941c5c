// A machine in a Node worker thread: the same endpoint and machine code as the browser's Web Worker
// (worker/main.ts), reading images from a directory. Started by host.ts.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import type { TransferListItem } from 'node:worker_threads';
import { MachineEndpoint } from '../endpoint.ts';
import { MachineFailure } from '../errors.ts';
import { fileReader, urlReader } from '../readers.ts';
import { pathReader } from './path-reader.ts';

const port = parentPort;
if (!port) throw new Error('worker/node/thread.ts runs inside a worker thread; use bootImage() from host.ts');

const v86WasmPath = createRequire(import.meta.url).resolve('v86/build/v86.wasm');
// Compile now, while the host is still getting ready to send a boot command.
const v86Module = readFile(v86WasmPath).then((bytes) => WebAssembly.compile(bytes));
v86Module.catch(() => undefined);

const endpoint = new MachineEndpoint({
  post: (msg, transfer) => port.postMessage(msg, transfer as unknown as TransferListItem[]),
  v86Module: () => v86Module,
  reader(source) {
    switch (source.from) {
      case 'path':
        return pathReader(source.dir);
      case 'url':
        return urlReader(source.baseUrl);
      case 'file':
        return fileReader(source.files);
      case 'store':
        throw new MachineFailure('bad-message', 'Node has no browser image store.', "Boot from a directory: { from: 'path', dir }.");
    }
  },
});

port.on('message', (m: unknown) => endpoint.receive(m));
process.on('uncaughtException', (e) => endpoint.fatal(e));
process.on('unhandledRejection', (e) => endpoint.fatal(e));
