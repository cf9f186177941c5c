// One emulated PC: a v86 instance booted from an image's artifacts, with its serial console batched
// into chunks, boot phases timed, live stats, controls, saved states and scripted typing.
// Environment-neutral (no DOM, no Node): the same code runs in a browser worker and a Node thread.

import { V86 } from 'v86';
import type { V86Options } from 'v86';
import type { Artifact, Manifest, ScriptStep } from '../images/manifest.ts';
import type { ArtifactLoader, V86DiskBuffer } from './artifacts.ts';
import { ArtifactError } from './artifacts.ts';
import { MachineFailure, toMachineError } from './errors.ts';
import type { SavedStateMeta } from './image-store.ts';
import { scancodesFor } from './keyboard.ts';
import type { BootOptions, BootPhaseName, EventName, KeyPress, MachineEvents, MachineStatus, PhaseMark } from './protocol.ts';
import type { CanvasScreen } from './screen.ts';
import { isZstd, zstdCompress, initZstd } from './zstd.ts';

export type Emit = <K extends EventName>(event: K, data: MachineEvents[K]) => void;

/** Where saved states go when a save targets the store (the browser's IndexedDB). */
export interface StateStore {
  put(meta: SavedStateMeta, bytes: Uint8Array): Promise<void>;
  get(id: string): Promise<Uint8Array | undefined>;
}

export interface MachineEnv {
  emit: Emit;
  /** v86's wasm, compiled once per worker (instantiating a compiled module is fast). */
  v86Module(): Promise<WebAssembly.Module>;
  states?: StateStore;
}

/** The parts of a v86 instance the machine reaches into, beyond its public API (v86 0.5.462). */
interface V86Internals {
  v86?: {
    do_tick(): void;
    running: boolean;
    cpu: {
      devices: { vga?: VgaDevice };
      /** Current privilege level: 3 once the guest runs user code. */
      cpl: Uint8Array;
      /** Control registers; CR0 bit 31 is paging, which only the decompressed kernel turns on. */
      cr: Int32Array;
      in_hlt: Uint8Array;
      flags: Int32Array;
      /** Called from inside the main loop after every ~100k instructions (src/rust/cpu/cpu.rs). */
      run_hardware_timers(acpi: boolean, now: number): number;
    };
  };
  cpu_is_running: boolean;
  screen_adapter: unknown;
  bus: { send(name: string, value?: unknown): void };
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

type Emulator = V86 & V86Internals;

const MiB = 1 << 20;
/** v86's default VGA memory; part of every saved state, so it must not change between save and restore. */
const VGA_MEMORY = 8 * MiB;
/** Serial chunks go out at most this often (the first byte after a quiet spell goes out at once). */
const SERIAL_FLUSH_MS = 8;
const STATS_MS = 1000;
/**
 * How long a boot may print nothing before `guest-unresponsive`: an appliance reaches its prompt in
 * seconds; a full distribution booted `quiet` prints nothing while systemd starts (in Chromium on 2
 * cores Debian went 2½ minutes between its last kernel line and the login banner).
 */
const DEFAULT_STALL_MS = { appliance: 120_000, other: 600_000 };

/** How long this boot may print nothing before its prompt: the caller's limit, else the default for its kind. */
export function stallLimitMs(options: Pick<BootOptions, 'stallTimeoutMs'> & { manifest: Pick<Manifest, 'kind'> }): number {
  return options.stallTimeoutMs ?? (options.manifest.kind === 'appliance' ? DEFAULT_STALL_MS.appliance : DEFAULT_STALL_MS.other);
}
/** A CPU that retires nothing for this long while not idling (or idling with interrupts off) is hung. */
const HUNG_CPU_MS = 15_000;
/** How long a script waits for the prompt after a step's answer before typing the next line anyway. */
const PROMPT_WAIT_MS = 5000;
/** Decoded serial text kept for scripts and waiters. */
const TEXT_KEEP = 1 << 20;
const LOAD_TIMEOUT_MS = 60_000;
/** Where v86 loads an initrd in guest memory (src/kernel.js). */
const INITRD_ADDRESS = 64 * MiB;

/** A kernel console line: printk's timestamp, or the banner of a kernel printing without timestamps. */
const KERNEL_LINE = /^\s*\[\s*\d+\.\d+\]|Linux version \d/;
const RUN_INIT = /Run \S+ as init process/;
const PANIC = /Kernel panic - not syncing/;

interface Waiter {
  text: string;
  /** Offset in the decoded serial text where the search begins. */
  from: number;
  /** Text typed just before: its echo (the first line after `from`) does not count as a match. */
  typed?: string;
  resolve: (at: number) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Mark {
  at: number;
  instructions: number;
}

function bufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

export class Machine {
  #status: MachineStatus = 'idle';
  #emulator: Emulator | undefined;
  /** After stop (or a crash): emit nothing more, release everything. */
  #ended = false;
  readonly #abort = new AbortController();
  readonly #memoryBytes: number;

  // time and instructions
  #t0 = 0;
  #pausedAt = 0;
  #pausedTotal = 0;
  #instrTotal = 0;
  #instrLastRaw = 0;

  // serial output
  #out = new Uint8Array(4096);
  #outLen = 0;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #flushQueued = false;
  #lastFlush = 0;
  #lastOutputAt = 0;
  readonly #decoder = new TextDecoder();
  #text = '';
  /** Absolute offset of `#text[0]` in all text decoded so far. */
  #textBase = 0;
  #waiters: Waiter[] = [];
  #line: number[] = [];
  #tail = '';

  // boot phases
  #marks = new Map<BootPhaseName, Mark>();
  #cpuWatched = false;
  #readyMarker = '';
  #appMarker: string | undefined;
  #stallReported = false;

  // stats
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  #lastStats = { t: 0, instr: 0 };
  #diskRead = 0;
  #fsRead = 0;
  #serialBytes = 0;
  #lastProgress = { t: 0, instr: 0 };
  #hungReported = false;

  #scripts: Promise<unknown> = Promise.resolve();
  /** The prompt scripts wait for between lines (the app's, for a distro that starts one). */
  readonly #prompt: string;
  /** The loaded artifacts as v86 options, kept for a reset. */
  #settings: V86Options | undefined;
  #restored = false;

  constructor(
    private readonly env: MachineEnv,
    private readonly loader: ArtifactLoader,
    readonly options: BootOptions,
    private readonly screen: CanvasScreen,
  ) {
    this.#memoryBytes = (options.memoryMB ?? options.manifest.memoryMB) * MiB;
    // The ready marker is matched against bytes seen as Latin-1 characters, so encode it the same way.
    this.#readyMarker = latin1OfUtf8(options.manifest.readyMarker);
    const app = options.app ? options.manifest.apps?.find((a) => a.name === options.app) : undefined;
    if (options.app && !app && options.manifest.app !== options.app) {
      throw new MachineFailure('bad-image', `Image ${options.manifest.name} has no app "${options.app}".`, `Choose one of: ${(options.manifest.apps ?? []).map((a) => a.name).join(', ') || 'none'}.`);
    }
    this.#appMarker = app ? latin1OfUtf8(app.readyMarker) : undefined;
    this.#prompt = app?.readyMarker ?? options.manifest.readyMarker;
    loader.onDiskError = (e) => this.#fail(e);
  }

  get status(): MachineStatus {
    return this.#status;
  }

  get manifest(): Manifest {
    return this.options.manifest;
  }

  #emit: Emit = (event, data) => {
    if (!this.#ended) this.env.emit(event, data);
  };

  #setStatus(s: MachineStatus): void {
    this.#status = s;
    this.#emit('state', { status: s });
  }

  // ---- boot ----

  /** Loads the image and starts (or restores) the machine; resolves once it runs. */
  async start(): Promise<void> {
    this.#setStatus('loading');
    const loadStart = performance.now();
    const { manifest } = this.options;
    const restoring = this.options.restoreState !== undefined || this.options.restoreStateId !== undefined;
    const settings = await this.#loadArtifacts(manifest, restoring);
    this.#settings = settings;
    this.#restored = restoring;
    const state = restoring ? await this.#loadState() : undefined;
    if (this.#ended) return;
    this.#emit('phase', { phase: 'load', at: Math.round(performance.now() - loadStart), instructions: 0 });

    const module = await this.env.v86Module();
    if (this.#ended) return;
    const emulator = await this.#createEmulator(settings, module);
    if (this.#ended) {
      await destroyEmulator(emulator);
      return;
    }
    this.#emulator = emulator;
    this.#hook(emulator);

    if (state) {
      const t = performance.now();
      try {
        await emulator.restore_state(state);
      } catch (e) {
        throw new MachineFailure('bad-image', 'The saved state could not be loaded: it is damaged, or was saved from a different image or emulator version.', 'Boot the image normally and save a new state.', { cause: e });
      }
      this.#emit('phase', { phase: 'restored', at: Math.round(performance.now() - t), instructions: 0 });
    }
    this.#run(emulator, restoring);
  }

  async #loadArtifacts(manifest: Manifest, restoring: boolean): Promise<V86Options> {
    const byRole = (role: Artifact['role']) => manifest.artifacts.find((a) => a.role === role);
    const bios = byRole('bios');
    const vgabios = byRole('vgabios');
    if (!bios || !vgabios) {
      throw new ArtifactError('bad-image', `Image ${manifest.name} has no firmware (bios and vgabios artifacts).`, 'Rebuild the image, or import it together with firmware.');
    }
    // A restored machine's kernel and initrd are already in its saved memory: skip them.
    const wanted = manifest.artifacts.filter((a) => !(restoring && (a.role === 'kernel' || a.role === 'initrd')));
    const signal = this.#abort.signal;
    const settings: V86Options = {};
    let done = 0;
    const total = wanted.reduce((n, a) => n + a.size, 0);
    for (const a of wanted) {
      this.#emit('progress', { what: `loading ${a.role}`, done, total });
      if (a.role === 'disk' || a.role === 'cdrom') {
        const disk = await this.loader.openDisk(a, signal);
        (settings as Record<string, unknown>)[a.role === 'disk' ? 'hda' : 'cdrom'] = disk as V86DiskBuffer;
      } else {
        const raw = await this.loader.load(a, signal);
        const image = { buffer: bufferOf(raw) };
        if (a.role === 'bios') settings.bios = image;
        else if (a.role === 'vgabios') settings.vga_bios = image;
        else if (a.role === 'kernel') settings.bzimage = image;
        else if (a.role === 'initrd') settings.initrd = image;
      }
      done += a.size;
      if (this.#ended) break;
    }
    this.#emit('progress', { what: 'loaded', done: total, total });
    // v86 (src/kernel.js) puts the initrd at a fixed 64 MiB: the guest needs memory above it.
    const initrd = byRole('initrd');
    if (initrd && !restoring && this.#memoryBytes < INITRD_ADDRESS + initrd.size) {
      const need = Math.ceil((INITRD_ADDRESS + initrd.size) / MiB) + 1;
      throw new MachineFailure('bad-image', `${manifest.name} needs more than ${need - 1} MiB of memory: v86 loads the initrd at 64 MiB.`, `Give the machine at least ${need} MiB (memoryMB).`);
    }
    const cmdline = [manifest.cmdline, this.options.cmdlineAppend].filter(Boolean).join(' ');
    if (cmdline && !restoring) settings.cmdline = cmdline;
    return settings;
  }

  async #loadState(): Promise<ArrayBuffer> {
    let bytes = this.options.restoreState;
    if (!bytes) {
      if (!this.env.states) throw new MachineFailure('storage', 'This machine has no state store to restore from.', 'Pass the saved state bytes instead (restoreState).');
      bytes = await this.env.states.get(this.options.restoreStateId!);
      if (!bytes) throw new MachineFailure('storage', 'The saved state is no longer stored in this browser.', 'Boot the image normally; save a new state once it is ready.');
    }
    if (!isZstd(bytes)) throw new MachineFailure('bad-image', 'The saved state is not a zstd-compressed v86 state.', 'Save the state again from a running machine.');
    return bufferOf(bytes);
  }

  #createEmulator(files: V86Options, module: WebAssembly.Module): Promise<Emulator> {
    return new Promise<Emulator>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new MachineFailure('emulator-crashed', 'The emulator did not finish starting within a minute.', 'Restart the machine; if it happens again, reload the page.'));
      }, LOAD_TIMEOUT_MS);
      const options: V86Options = {
        ...files,
        memory_size: this.#memoryBytes,
        vga_memory_size: VGA_MEMORY,
        autostart: false,
        disable_mouse: true,
        disable_speaker: true,
        ...(this.options.virtioConsole ? { virtio_console: true as unknown as V86Options['virtio_console'] } : {}),
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
        resolve(emulator);
      });
    });
  }

  /** Wires the emulator's events and guards its main loop. */
  #hook(emulator: Emulator): void {
    const core = emulator.v86!;
    const tick = core.do_tick;
    const cpu = core.cpu;
    core.do_tick = () => {
      try {
        tick.call(core);
      } catch (e) {
        this.#crash(e);
      }
    };
    this.#watchCpu(cpu);

    emulator.add_listener('serial0-output-byte', (b) => this.#onSerialByte(b));
    emulator.add_listener('virtio-console0-output-bytes', (bytes) => this.#emit('virtio-out', bytes.slice()));
    emulator.add_listener('ide-read-end', ([, bytes]) => {
      this.#diskRead += bytes;
    });
    emulator.add_listener('9p-read-end', ([, bytes]) => {
      this.#fsRead += bytes;
    });
    this.#attachScreen(emulator);
  }

  /**
   * Watches for the kernel taking over (paging switched on) and for the first user-mode code (init),
   * for kernels that print neither (`quiet`). v86 calls run_hardware_timers from inside its main loop
   * every ~100k guest instructions, so sampling there sees even a short-lived init; the hook goes
   * away once the kernel phase has ended (seen here or on the console).
   */
  #watchCpu(cpu: NonNullable<V86Internals['v86']>['cpu']): void {
    if (this.#cpuWatched) return;
    this.#cpuWatched = true;
    const timers = cpu.run_hardware_timers;
    cpu.run_hardware_timers = (acpi, now) => {
      // Marked as they happen (a quiet Debian spends minutes in userspace: the timeline must say so).
      if (!this.#marks.has('firmware') && cpu.cr[0] & 0x80000000) this.#markPhase('firmware', this.#mark(), 'cpu');
      if (this.#marks.has('firmware') && !this.#marks.has('kernel') && cpu.cpl[0] === 3) this.#markPhase('kernel', this.#mark(), 'cpu');
      if (this.#marks.has('kernel')) {
        cpu.run_hardware_timers = timers;
        this.#cpuWatched = false;
      }
      return timers.call(cpu, acpi, now);
    };
  }

  /**
   * Puts this machine's canvas adapter in place of v86's headless one and replays the VGA state
   * into it, the way v86's own VGA set_state does after a restore (src/vga.js).
   */
  #attachScreen(emulator: Emulator): void {
    const vga = emulator.v86?.cpu.devices.vga;
    if (!vga) return;
    const screen = this.screen;
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

  #run(emulator: Emulator, restored: boolean): void {
    this.#instrLastRaw = emulator.get_instruction_counter();
    this.#instrTotal = 0;
    this.#t0 = performance.now();
    this.#lastOutputAt = this.#t0;
    this.#lastStats = { t: this.#t0, instr: 0 };
    this.#lastProgress = { t: this.#t0, instr: 0 };
    if (restored) {
      // A restored machine is past its boot: nothing to detect.
      for (const p of ['firmware', 'kernel', 'userspace', 'ready'] as const) this.#marks.set(p, { at: 0, instructions: 0 });
    }
    emulator.add_listener('emulator-stopped', () => this.screen.setRunning(false));
    emulator.add_listener('emulator-started', () => this.screen.setRunning(true));
    void emulator.run();
    this.screen.setRunning(true);
    this.#statsTimer = setInterval(() => this.#tickStats(), STATS_MS);
    this.#setStatus('running');
  }

  // ---- time, instructions, phases ----

  /** Guest instructions since start. v86's counter is 32 bits; it wraps every few seconds of guest time. */
  #instructions(): number {
    const e = this.#emulator;
    if (!e) return this.#instrTotal;
    const raw = e.get_instruction_counter();
    this.#instrTotal += (raw - this.#instrLastRaw) >>> 0;
    this.#instrLastRaw = raw;
    return this.#instrTotal;
  }

  #elapsed(): number {
    const now = this.#status === 'paused' ? this.#pausedAt : performance.now();
    return now - this.#t0 - this.#pausedTotal;
  }

  #mark(): Mark {
    return { at: Math.round(this.#elapsed()), instructions: this.#instructions() };
  }

  #markPhase(phase: BootPhaseName, m: Mark = this.#mark(), detectedBy?: PhaseMark['detectedBy']): void {
    if (this.#marks.has(phase)) return;
    this.#marks.set(phase, m);
    // The console text that led to this mark goes out before the mark does.
    this.#flush();
    const mark: PhaseMark = { phase, ...m, ...(detectedBy ? { detectedBy } : {}) };
    this.#emit('phase', mark);
  }

  /** Guest text, one byte at a time, straight from the UART: batched out, scanned for boot phases. */
  #onSerialByte(b: number): void {
    if (this.#outLen === this.#out.length) {
      const bigger = new Uint8Array(this.#out.length * 2);
      bigger.set(this.#out);
      this.#out = bigger;
    }
    this.#out[this.#outLen++] = b;
    this.#serialBytes++;
    this.#scheduleFlush();

    if (b === 10) {
      this.#onLine(new TextDecoder().decode(new Uint8Array(this.#line)).replace(/\r$/, ''));
      this.#line.length = 0;
    } else if (this.#line.length < 1024) {
      this.#line.push(b);
    }
    if (!this.#marks.has('ready')) {
      this.#tail = (this.#tail + String.fromCharCode(b)).slice(-256);
      if (!this.#marks.has('userspace') && this.#tail.endsWith(this.#readyMarker)) this.#onReadyMarker();
      else if (this.#appMarker && this.#marks.has('userspace') && this.#tail.endsWith(this.#appMarker)) this.#markPhase('ready', this.#mark(), 'console');
    }
  }

  #onLine(line: string): void {
    if (!this.#marks.has('firmware') && KERNEL_LINE.test(line)) this.#markPhase('firmware', this.#mark(), 'console');
    if (!this.#marks.has('kernel') && RUN_INIT.test(line)) this.#markPhase('kernel', this.#mark(), 'console');
    if (PANIC.test(line)) {
      this.#emit('error', { code: 'guest-panic', message: `The guest kernel panicked: ${line.trim()}`, hint: 'Read the console for the cause; reset the machine to boot again.' });
    }
  }

  #onReadyMarker(): void {
    const now = this.#mark();
    // Kernels booted with `quiet` print neither their banner nor "Run /init": the CPU watch marks them
    // (paging on: the decompressed kernel runs; first user-mode code: init runs). A guest it did not
    // see do either ends both phases here.
    this.#markPhase('firmware', now, 'cpu');
    this.#markPhase('kernel', now, 'cpu');
    this.#markPhase('userspace', now, 'console');
    if (!this.#appMarker) {
      this.#markPhase('ready', now, 'console');
      return;
    }
    const app = this.options.manifest.apps?.find((a) => a.name === this.options.app);
    if (app) this.#type(`${app.command}\r`);
  }

  #scheduleFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    const wait = this.#lastFlush + SERIAL_FLUSH_MS - performance.now();
    if (wait <= 0) queueMicrotask(() => this.#flush());
    else this.#flushTimer = setTimeout(() => this.#flush(), wait);
  }

  #flush(): void {
    this.#flushQueued = false;
    this.#flushTimer = undefined;
    if (this.#outLen === 0) return;
    const chunk = this.#out.slice(0, this.#outLen);
    this.#outLen = 0;
    this.#lastFlush = this.#lastOutputAt = performance.now();
    const text = this.#decoder.decode(chunk, { stream: true });
    // Emitting transfers (detaches) the chunk: decode it first.
    if (this.options.serial !== false) this.#emit('serial-out', chunk);
    this.#appendText(text);
  }

  #appendText(s: string): void {
    this.#text += s;
    if (this.#text.length > TEXT_KEEP * 2) {
      const drop = this.#text.length - TEXT_KEEP;
      this.#text = this.#text.slice(drop);
      this.#textBase += drop;
    }
    if (this.#waiters.length) this.#checkWaiters();
  }

  #checkWaiters(): void {
    for (const w of [...this.#waiters]) {
      let from = Math.max(0, w.from - this.#textBase);
      if (w.typed !== undefined) {
        // Skip the guest's echo of the typed line: the first line after typing, if it holds that text.
        const nl = this.#text.indexOf('\n', from);
        if (nl < 0) continue;
        if (this.#text.slice(from, nl).includes(w.typed.trim())) from = nl + 1;
      }
      const i = this.#text.indexOf(w.text, from);
      if (i >= 0) {
        clearTimeout(w.timer);
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve(this.#textBase + i + w.text.length);
      }
    }
  }

  /** Resolves with the text offset after `text` once it appears (after `typed`'s echo, if given). */
  #waitFor(text: string, timeoutMs: number, from: number, typed?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        text,
        from,
        typed,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          reject(new MachineFailure('guest-unresponsive', `Waited ${timeoutMs / 1000} s for ${JSON.stringify(text)} on the console; it did not appear.`, 'The guest may be busy or stuck: look at the console, then try again or reset the machine.'));
        }, timeoutMs),
      };
      this.#waiters.push(w);
      this.#checkWaiters();
    });
  }

  /** Absolute offset of the end of the decoded serial text (bytes not yet flushed are flushed first). */
  #textEnd(): number {
    this.#flush();
    return this.#textBase + this.#text.length;
  }

  // ---- stats and liveness ----

  #tickStats(): void {
    const e = this.#emulator;
    if (!e || this.#ended) return;
    const now = performance.now();
    const instr = this.#instructions();
    const running = this.#status === 'running';
    const dt = (now - this.#lastStats.t) / 1000;
    const ips = running && dt > 0 ? Math.round((instr - this.#lastStats.instr) / dt) : 0;
    this.#lastStats = { t: now, instr };
    this.#emit('stats', {
      uptimeMs: Math.round(this.#elapsed()),
      instructionsPerSecond: ips,
      instructions: instr,
      memoryBytes: this.#memoryBytes,
      diskReadBytes: this.#diskRead,
      fsReadBytes: this.#fsRead,
      serialBytes: this.#serialBytes,
      running,
    });
    if (!running) {
      this.#lastProgress = { t: now, instr };
      return;
    }
    this.#checkLiveness(now, instr);
  }

  #checkLiveness(now: number, instr: number): void {
    if (instr !== this.#lastProgress.instr) {
      this.#lastProgress = { t: now, instr };
      this.#hungReported = false;
    } else if (!this.#hungReported && now - this.#lastProgress.t > HUNG_CPU_MS) {
      const cpu = this.#emulator?.v86?.cpu;
      const interruptsOff = cpu ? (cpu.flags[0] & 0x200) === 0 : false;
      const halted = cpu ? cpu.in_hlt[0] !== 0 : false;
      // An idle guest halts with interrupts on and wakes on its timer; halted with them off, it never will.
      if (!halted || interruptsOff) {
        this.#hungReported = true;
        this.#emit('error', {
          code: 'guest-unresponsive',
          message: halted ? 'The guest CPU halted with interrupts disabled: it will not run again.' : `The guest CPU has retired no instructions for ${Math.round(HUNG_CPU_MS / 1000)} s.`,
          hint: 'Reset the machine (or stop it).',
        });
      }
    }
    const stallMs = stallLimitMs(this.options);
    if (!this.#marks.has('ready') && !this.#stallReported && this.#elapsed() > 0 && performance.now() - this.#lastOutputAt > stallMs) {
      this.#stallReported = true;
      this.#emit('error', {
        code: 'guest-unresponsive',
        message: `The guest has printed nothing for ${Math.round(stallMs / 1000)} s and has not reached its prompt.`,
        hint: 'Look at the screen and console for the last thing it did; reset or stop the machine.',
      });
    }
  }

  // ---- controls ----

  #running(): Emulator {
    if (!this.#emulator || this.#ended || (this.#status !== 'running' && this.#status !== 'paused')) {
      throw new MachineFailure('not-running', 'The machine is not running.', 'Boot an image first.');
    }
    return this.#emulator;
  }

  async pause(): Promise<void> {
    const e = this.#running();
    if (this.#status === 'paused') return;
    await e.stop();
    this.#pausedAt = performance.now();
    this.#setStatus('paused');
  }

  async resume(): Promise<void> {
    const e = this.#running();
    if (this.#status !== 'paused') return;
    this.#pausedTotal += performance.now() - this.#pausedAt;
    this.#instrLastRaw = e.get_instruction_counter();
    await e.run();
    this.#setStatus('running');
  }

  /**
   * Power-cycles the machine: a new v86 instance from the same (already loaded) artifacts, so boot
   * phases are measured again. (v86's own restart() leaves a Linux booted from bzImage in a state its
   * CPU cannot handle: "Unimplemented: #GP handler", a wasm trap.) Disk writes are kept, as on a PC.
   */
  async reset(): Promise<void> {
    const old = this.#running();
    this.#flush();
    this.#emulator = undefined;
    clearInterval(this.#statsTimer);
    this.screen.setFramebufferSource(null);
    this.#setStatus('loading');
    await destroyEmulator(old);
    if (this.#restored || !this.#settings) {
      // A restored machine never loaded its kernel and initrd (its disks, and what was written to them, stay).
      const fresh = await this.#loadArtifacts(this.options.manifest, false);
      this.#settings = { ...fresh, ...(this.#settings?.hda ? { hda: this.#settings.hda } : {}), ...(this.#settings?.cdrom ? { cdrom: this.#settings.cdrom } : {}) };
      this.#restored = false;
    }
    if (this.#ended) return;
    const emulator = await this.#createEmulator(this.#settings, await this.env.v86Module());
    if (this.#ended) {
      await destroyEmulator(emulator);
      return;
    }
    this.#marks.clear();
    this.#cpuWatched = false;
    this.#tail = '';
    this.#line.length = 0;
    this.#stallReported = this.#hungReported = false;
    this.#pausedTotal = 0;
    this.#emulator = emulator;
    this.#hook(emulator);
    this.#run(emulator, false);
  }

  /** Stops and frees the emulator; nothing is emitted after the final `stopped` state. */
  async stop(): Promise<void> {
    if (this.#ended) return;
    this.#abort.abort();
    this.#flush();
    this.#setStatus('stopped');
    this.#ended = true;
    await this.#release();
  }

  async #release(): Promise<void> {
    clearInterval(this.#statsTimer);
    clearTimeout(this.#flushTimer);
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(new MachineFailure('not-running', 'The machine stopped.', 'Boot it again.'));
    }
    this.#waiters = [];
    this.screen.setFramebufferSource(null);
    this.screen.setRunning(false);
    const e = this.#emulator;
    this.#emulator = undefined;
    if (e) await destroyEmulator(e);
  }

  /** The emulator threw (a wasm trap, a bug in v86): report it and stop cleanly. */
  #crash(e: unknown): void {
    if (this.#ended) return;
    const em = this.#emulator;
    if (em) {
      em.cpu_is_running = false;
      if (em.v86) em.v86.running = false;
    }
    this.#fail(new MachineFailure('emulator-crashed', `The emulator crashed: ${(e as Error)?.message ?? String(e)}`, 'Restart the machine. Saved states and stored images are not affected.', { cause: e }));
  }

  /** An error that ends the machine: report it, then stop. */
  #fail(e: unknown): void {
    if (this.#ended) return;
    this.#emit('error', toMachineError(e, 'emulator-crashed'));
    void this.stop();
  }

  /** Crash from outside the main loop (an uncaught error in the worker while this machine ran). */
  crash(e: unknown): void {
    this.#crash(e);
  }

  sendSerial(bytes: Uint8Array, port: 'serial' | 'virtio' = 'serial'): void {
    const e = this.#running();
    if (port === 'virtio') e.bus.send('virtio-console0-input-bytes', bytes);
    else e.serial_send_bytes(0, bytes);
  }

  #type(text: string): void {
    this.sendSerial(new TextEncoder().encode(text));
  }

  keyboard(input: { text?: string; scancodes?: number[]; keys?: KeyPress[] }): void {
    const e = this.#running();
    if (input.scancodes?.length) void e.keyboard_send_scancodes(input.scancodes);
    for (const k of input.keys ?? []) {
      const codes = scancodesFor(k.code, k.down);
      if (codes) void e.keyboard_send_scancodes(codes);
    }
    if (input.text) void e.keyboard_send_text(input.text);
  }

  screenText(): string[] {
    return this.screen.textLines();
  }

  /**
   * Types each step's line on the serial console and waits for its expected text in the output
   * that follows (after the echo of the line itself). Returns the transcript of the whole run.
   */
  runScript(steps: ScriptStep[]): Promise<{ ok: boolean; transcript: string; failedStep?: number; message?: string }> {
    const run = async () => {
      this.#running();
      const start = this.#textEnd();
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i];
        const from = this.#textEnd();
        this.#type(`${step.send}\r`);
        let end: number;
        try {
          end = await this.#waitFor(step.expect, (step.timeout ?? 10) * 1000, from, step.send);
        } catch (e) {
          return { ok: false, transcript: this.#textSince(start), failedStep: i, message: (e as Error).message };
        }
        // Like a person, wait for the prompt before typing on: a line typed while the app still works
        // is echoed by the terminal in cooked mode, and a line editor (linenoise in redis-cli) then
        // reads its Enter as a newline it ignores. A step that leaves another program's prompt (or
        // none) just costs the wait.
        if (i < steps.length - 1) await this.#waitFor(this.#prompt, PROMPT_WAIT_MS, end).catch(() => undefined);
      }
      return { ok: true, transcript: this.#textSince(start) };
    };
    const result = this.#scripts.then(run, run);
    this.#scripts = result.catch(() => undefined);
    return result;
  }

  #textSince(offset: number): string {
    this.#flush();
    return this.#text.slice(Math.max(0, offset - this.#textBase));
  }

  /**
   * Saves the machine's state, zstd-compressed (v86 restores `.zst` states natively). With `prepare`,
   * first types the image's `beforeSaveState` line (e.g. dropping caches) so fewer pages are saved.
   */
  async saveState(opts: { label?: string; target?: 'store' | 'transfer'; prepare?: boolean }): Promise<MachineEvents['state-saved'] & { meta: SavedStateMeta }> {
    const e = this.#running();
    const prep = this.options.manifest.beforeSaveState;
    if (opts.prepare && prep) {
      const r = await this.runScript([prep]);
      if (!r.ok) throw new MachineFailure('guest-unresponsive', `Preparing the guest for saving failed: ${r.message}`, 'Save without preparing, or wait until the guest is at its prompt.');
    }
    await initZstd();
    const t = performance.now();
    const raw = new Uint8Array(await e.save_state());
    const bytes = zstdCompress(raw);
    const ms = Math.round(performance.now() - t);
    const m = this.options.manifest;
    const meta: SavedStateMeta = {
      id: stateId(),
      image: m.name,
      artifacts: m.artifacts.map((a) => a.sha256),
      memoryMB: this.#memoryBytes / MiB,
      ...(opts.label ? { label: opts.label } : {}),
      createdAt: Date.now(),
      size: bytes.length,
      rawSize: raw.length,
    };
    const target = opts.target ?? (this.env.states ? 'store' : 'transfer');
    if (target === 'store') {
      if (!this.env.states) throw new MachineFailure('storage', 'This machine has no state store.', "Save with target 'transfer' to get the bytes.");
      await this.env.states.put(meta, bytes);
    }
    return { id: 0, stateId: meta.id, size: meta.size, rawSize: meta.rawSize, ms, ...(target === 'transfer' ? { bytes } : {}), meta };
  }
}

async function destroyEmulator(e: Emulator): Promise<void> {
  try {
    // v86's destroy() first waits for its main loop to acknowledge a stop; a crashed loop never will.
    if (!e.v86?.running) e.cpu_is_running = false;
    await e.destroy();
  } catch {
    // Half-started or crashed emulators may fail to tear down; drop the references regardless.
  }
}

/** A random id (crypto.randomUUID needs a secure context; getRandomValues does not). */
function stateId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

function latin1OfUtf8(s: string): string {
  return String.fromCharCode(...new TextEncoder().encode(s));
}

