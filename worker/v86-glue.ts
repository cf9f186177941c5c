// What the machine needs of v86 beyond its public API (v86 0.5.462): creating an instance from loaded
// artifacts with a compiled wasm module, guarding its main loop, drawing its VGA on our screen, and
// tearing it down even when it crashed. Environment-neutral.

import { V86 } from 'v86';
import type { V86Options } from 'v86';
import { MachineFailure } from './errors.ts';
import type { LinuxBootCpu } from './linux-boot.ts';
import type { CanvasScreen } from './screen.ts';
import type { V86Filesystem } from './share.ts';

export const MiB = 1 << 20;
/** v86's default VGA memory; part of every saved state, so it must not change between save and restore. */
const VGA_MEMORY = 8 * MiB;
const LOAD_TIMEOUT_MS = 60_000;

/** The CPU state the machine samples (phases, liveness) and sets for a direct kernel entry. */
export interface V86Cpu extends LinuxBootCpu {
  devices: { vga?: VgaDevice };
  /** Current privilege level: 3 once the guest runs user code. */
  cpl: Uint8Array;
  /** Control registers; CR0 bit 31 is paging, which only the decompressed kernel turns on. */
  in_hlt: Uint8Array;
  /** Called from inside the main loop after every ~100k instructions (src/rust/cpu/cpu.rs). */
  run_hardware_timers(acpi: boolean, now: number): number;
}

/** The parts of a v86 instance the machine reaches into, beyond its public API. */
interface V86Internals {
  v86?: {
    do_tick(): void;
    running: boolean;
    cpu: V86Cpu;
    /** In a Web Worker: the second worker v86 starts to schedule its next slice (src/main.js). */
    worker: Worker | null;
    tick_counter: number;
    yield(t: number, tick: number): void;
    yield_callback(tick: number): void;
    unregister_yield(): void;
  };
  cpu_is_running: boolean;
  screen_adapter: unknown;
  bus: { send(name: string, value?: unknown): void };
  /** The 9p filesystem, when created with `share` (worker/share.ts drives it). */
  fs9p?: V86Filesystem;
}

interface VgaDevice {
  screen: unknown;
  graphical_mode: boolean;
  svga_enabled: boolean;
  svga_width: number;
  svga_height: number;
  svga_bpp: number;
  max_cols: number;
  max_rows: number;
  screen_width: number;
  screen_height: number;
  set_size_graphical(w: number, h: number, vw: number, vh: number, bpp: number): void;
  update_layers(): void;
  update_vga_size(): void;
  complete_replot(): void;
  set_font_bitmap(changed: boolean): void;
  set_size_text(cols: number, rows: number): void;
  set_font_page(): void;
  update_cursor_scanline(): void;
  update_cursor(): void;
  complete_redraw(): void;
  screen_fill_buffer(): void;
}

export type Emulator = V86 & V86Internals;

/** The bytes as a whole ArrayBuffer (v86 takes buffers, not views). */
export function bufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

/** A stopped v86 instance from loaded artifacts; resolves once v86 has loaded (not yet running). */
export function createEmulator(files: V86Options, module: WebAssembly.Module, opts: { memoryBytes: number; virtioConsole?: boolean; share?: boolean }): Promise<Emulator> {
  return new Promise<Emulator>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new MachineFailure('emulator-crashed', 'The emulator did not finish starting within a minute.', 'Restart the machine; if it happens again, reload the page.'));
    }, LOAD_TIMEOUT_MS);
    const options: V86Options = {
      ...files,
      memory_size: opts.memoryBytes,
      vga_memory_size: VGA_MEMORY,
      autostart: false,
      disable_mouse: true,
      disable_speaker: true,
      ...(opts.virtioConsole ? { virtio_console: true as unknown as V86Options['virtio_console'] } : {}),
      // An empty in-memory 9p filesystem on a virtio device (tag host9p): the host share.
      ...(opts.share ? { filesystem: {} } : {}),
      wasm_fn: async (imports: WebAssembly.Imports) => {
        try {
          return (await WebAssembly.instantiate(module, imports)).exports;
        } catch (e) {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            reject(new MachineFailure('emulator-crashed', 'The emulator (WebAssembly) could not start.', 'Use a current browser with WebAssembly enabled; reload the page.', { cause: e }));
          }
          // v86 has no way to report this; leave its start pending rather than throwing into it.
          return new Promise<never>(() => {});
        }
      },
    };
    let emulator: Emulator;
    try {
      emulator = new V86(options) as Emulator;
    } catch (e) {
      clearTimeout(timer);
      reject(new MachineFailure('bad-image', `The emulator rejected the image: ${(e as Error).message}`, 'Check that the image is a bootable x86 image.', { cause: e }));
      return;
    }
    emulator.add_listener('emulator-loaded', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      yieldInThread(emulator);
      resolve(emulator);
    });
  });
}

/**
 * v86 runs in slices of about a millisecond and yields between them. In a Web Worker it schedules the
 * next slice through a second worker it starts for that (v86's src/main.js: a message there and one
 * back per slice), so every slice waits on a hop between threads; on a busy 2-core host the page ran
 * the same boot 1.5–3× slower than Node, which yields with setImmediate. A MessageChannel in the
 * machine's own worker does what setImmediate does (a new task, without setTimeout's 4 ms clamp);
 * longer waits (the guest halted until a timer) stay setTimeout. Node keeps v86's own setImmediate.
 */
export function yieldInThread(emulator: Emulator): void {
  const core = emulator.v86;
  if (!core?.worker || typeof MessageChannel === 'undefined') return;
  core.unregister_yield();
  const channel = new MessageChannel();
  let timer: ReturnType<typeof setTimeout> | undefined;
  channel.port1.onmessage = (e: MessageEvent<number>) => core.yield_callback(e.data);
  core.yield = (t, tick) => {
    clearTimeout(timer);
    if (t < 1) channel.port2.postMessage(tick);
    else timer = setTimeout(() => core.yield_callback(tick), t);
  };
  core.unregister_yield = () => {
    clearTimeout(timer);
    channel.port1.close();
  };
}

/** Routes anything v86's main loop throws (a wasm trap, a bug in v86) to `onCrash` instead of the worker. */
export function guardMainLoop(emulator: Emulator, onCrash: (e: unknown) => void): void {
  const core = emulator.v86!;
  const tick = core.do_tick;
  core.do_tick = () => {
    try {
      tick.call(core);
    } catch (e) {
      onCrash(e);
    }
  };
}

/** Stops a crashed loop for good: v86 would otherwise keep scheduling it. */
export function haltEmulator(emulator: Emulator): void {
  emulator.cpu_is_running = false;
  if (emulator.v86) emulator.v86.running = false;
}

/**
 * Puts the machine's canvas adapter in place of v86's headless one and replays the VGA state into
 * it, the way v86's own VGA set_state does after a restore (src/vga.js).
 */
export function attachScreen(emulator: Emulator, screen: CanvasScreen): void {
  const vga = emulator.v86?.cpu.devices.vga;
  if (!vga) return;
  vga.screen = screen;
  emulator.screen_adapter = screen;
  screen.set_mode(vga.graphical_mode);
  if (vga.graphical_mode) {
    vga.screen_width = vga.screen_height = 0;
    if (vga.svga_enabled) {
      vga.set_size_graphical(vga.svga_width, vga.svga_height, vga.svga_width, vga.svga_height, vga.svga_bpp);
      vga.update_layers();
    } else {
      vga.update_vga_size();
      vga.update_layers();
      vga.complete_replot();
    }
  } else {
    screen.clear_text_state();
    vga.set_font_bitmap(true);
    vga.set_size_text(vga.max_cols, vga.max_rows);
    vga.set_font_page();
    vga.update_cursor_scanline();
    vga.update_cursor();
  }
  vga.complete_redraw();
  // Graphics frames need ImageData (browsers only); without a canvas nothing asks for them.
  screen.setFramebufferSource(typeof ImageData === 'undefined' ? null : { fill: () => vga.screen_fill_buffer(), redrawAll: () => vga.complete_redraw() });
}

export async function destroyEmulator(e: Emulator): Promise<void> {
  try {
    // v86's destroy() first waits for its main loop to acknowledge a stop; a crashed loop never will.
    if (!e.v86?.running) e.cpu_is_running = false;
    await e.destroy();
  } catch {
    // Half-started or crashed emulators may fail to tear down; drop the references regardless.
  }
}
