// Saved machine states: v86's state compressed with zstd (v86 restores `.zst` states natively),
// kept in the worker's state store (the browser's IndexedDB) or handed back as bytes, and read back
// for a restore. Environment-neutral.

import type { Manifest } from '../images/manifest.ts';
import { MachineFailure } from './errors.ts';
import type { SavedStateMeta } from './image-store.ts';
import type { BootOptions, MachineEvents } from './protocol.ts';
import { bufferOf, MiB } from './v86-glue.ts';
import type { Emulator } from './v86-glue.ts';
import { initZstd, isZstd, zstdCompress } from './zstd.ts';

/** Where saved states go when a save targets the store (the browser's IndexedDB). */
export interface StateStore {
  put(meta: SavedStateMeta, bytes: Uint8Array): Promise<void>;
  get(id: string): Promise<Uint8Array | undefined>;
}

export type SaveResult = MachineEvents['state-saved'] & { meta: SavedStateMeta };

/** The state a boot restores (its bytes, or the stored one it names), checked to be a zstd v86 state. */
export async function loadState(options: Pick<BootOptions, 'restoreState' | 'restoreStateId'>, states: StateStore | undefined): Promise<ArrayBuffer> {
  let bytes: Uint8Array | undefined = options.restoreState;
  if (!bytes) {
    if (!states) throw new MachineFailure('storage', 'This machine has no state store to restore from.', 'Pass the saved state bytes instead (restoreState).');
    bytes = await states.get(options.restoreStateId!);
    if (!bytes) throw new MachineFailure('storage', 'The saved state is no longer stored in this browser.', 'Boot the image normally; save a new state once it is ready.');
  }
  if (!isZstd(bytes)) throw new MachineFailure('bad-image', 'The saved state is not a zstd-compressed v86 state.', 'Save the state again from a running machine.');
  return bufferOf(bytes);
}

/** Saves the emulator's state, compressed, into the store or for transfer (the default without a store). */
export async function saveState(emulator: Emulator, opts: { manifest: Manifest; memoryBytes: number; label?: string; target?: 'store' | 'transfer'; states?: StateStore }): Promise<SaveResult> {
  await initZstd();
  const t = performance.now();
  const raw = new Uint8Array(await emulator.save_state());
  const bytes = zstdCompress(raw);
  const ms = Math.round(performance.now() - t);
  const m = opts.manifest;
  const meta: SavedStateMeta = {
    id: stateId(),
    image: m.name,
    artifacts: m.artifacts.map((a) => a.sha256),
    memoryMB: opts.memoryBytes / MiB,
    ...(opts.label ? { label: opts.label } : {}),
    createdAt: Date.now(),
    size: bytes.length,
    rawSize: raw.length,
  };
  const target = opts.target ?? (opts.states ? 'store' : 'transfer');
  if (target === 'store') {
    if (!opts.states) throw new MachineFailure('storage', 'This machine has no state store.', "Save with target 'transfer' to get the bytes.");
    await opts.states.put(meta, bytes);
  }
  return { id: 0, stateId: meta.id, size: meta.size, rawSize: meta.rawSize, ms, ...(target === 'transfer' ? { bytes } : {}), meta };
}

/** A random id (crypto.randomUUID needs a secure context; getRandomValues does not). */
function stateId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}
