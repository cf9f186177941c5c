// When v86's wasm throws (a trap in its main loop), the machine reports `emulator-crashed`, stops
// cleanly and can boot again. Runs the worker's endpoint in-process so the test can make the
// emulator's wasm trap on demand.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MachineEndpoint } from '../../worker/endpoint.ts';
import { loadManifest } from '../../worker/node/host.ts';
import { pathReader } from '../../worker/node/path-reader.ts';
import { PROTOCOL_VERSION } from '../../worker/protocol.ts';
import type { EventMessage, MachineError } from '../../worker/protocol.ts';

const SHELL = resolve(process.env.WHITTLE_SHELL_IMAGE ?? 'images/dist/shell');
const realInstantiate = WebAssembly.instantiate;

afterEach(() => {
  WebAssembly.instantiate = realInstantiate;
});

describe('machine: emulator crash', () => {
  it('turns a wasm trap in the main loop into emulator-crashed, stops cleanly, and boots again', async () => {
    let trap = false;
    // Wrap the emulator's exports so that its main loop traps like a real wasm fault once asked to.
    WebAssembly.instantiate = (async (source: WebAssembly.Module | BufferSource, imports?: WebAssembly.Imports) => {
      // Only the machine instantiates a compiled module (zstd-wasm instantiates bytes: leave it alone).
      if (!(source instanceof WebAssembly.Module)) return realInstantiate(source, imports);
      const instance = await realInstantiate(source, imports);
      const exports: Record<string, unknown> = { ...instance.exports };
      const mainLoop = exports.main_loop as (() => number) | undefined;
      if (mainLoop) {
        exports.main_loop = () => {
          if (trap) throw new WebAssembly.RuntimeError('unreachable executed');
          return mainLoop();
        };
      }
      return { exports } as unknown as WebAssembly.Instance;
    }) as typeof WebAssembly.instantiate;

    const events: EventMessage[] = [];
    const wasm = await WebAssembly.compile(await readFile(createRequire(import.meta.url).resolve('v86/build/v86.wasm')));
    const endpoint = new MachineEndpoint({ post: (msg) => events.push(msg), v86Module: async () => wasm, reader: (s) => pathReader((s as { dir: string }).dir) });
    const manifest = await loadManifest(SHELL);
    const boot = (id: number) => endpoint.receive({ v: PROTOCOL_VERSION, type: 'boot', id, options: { manifest, source: { from: 'path', dir: SHELL }, serial: false } });
    const phase = (name: string) => events.some((e) => e.event === 'phase' && e.data.phase === name);
    const statuses = () => events.flatMap((e) => (e.event === 'state' ? [e.data.status] : []));

    boot(1);
    await expect.poll(() => phase('ready'), { timeout: 120_000, interval: 100 }).toBe(true);
    trap = true;
    await expect.poll(() => statuses().at(-1), { timeout: 10_000 }).toBe('stopped');
    const errors = events.flatMap((e) => (e.event === 'error' ? [e.data as MachineError] : []));
    expect(errors).toHaveLength(1);
    expect(errors[0].code).toBe('emulator-crashed');
    expect(errors[0].message).toContain('unreachable');
    expect(errors[0].detail).toContain('RuntimeError');
    const after = events.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(events.length).toBe(after); // stopped means silent: no stats, no output

    // The worker survives: the next boot works.
    trap = false;
    events.length = 0;
    boot(2);
    await expect.poll(() => phase('ready'), { timeout: 120_000, interval: 100 }).toBe(true);
    endpoint.receive({ v: PROTOCOL_VERSION, type: 'stop', id: 3 });
    await expect.poll(() => events.some((e) => e.event === 'done' && e.data.id === 3), { timeout: 10_000 }).toBe(true);
  });
});
