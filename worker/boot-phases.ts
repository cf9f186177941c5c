// Boot phase detection: the serial console (the kernel's first line, "Run /init", the ready marker,
// a panic) and, for kernels booted `quiet`, the CPU (paging switched on, first user-mode code).
// Each phase is marked once, as it happens. Environment-neutral.

import { type GuestMessage, GuestMessages } from './guest-messages.ts';
import type { BootPhaseName, PhaseMark } from './protocol.ts';
import type { V86Cpu } from './v86-glue.ts';

/** A moment of the boot: ms since the machine started executing, guest instructions since then. */
export interface Moment {
  at: number;
  instructions: number;
}

/** A kernel console line: printk's timestamp, or the banner of a kernel printing without timestamps. */
const KERNEL_LINE = /^\s*\[\s*\d+\.\d+\]|Linux version \d/;
const RUN_INIT = /Run \S+ as init process/;
/** Serial line bytes kept for the line patterns (a longer line is cut). */
const LINE_MAX = 1024;

export interface PhaseHooks {
  /** The moment now. */
  now(): Moment;
  /** A phase just ended (the console text that led to it must go out first). */
  mark(mark: PhaseMark): void;
  /** The guest printed a known message (a panic, a firmware boot failure: guest-messages.ts). */
  guestMessage(m: GuestMessage): void;
  /** The image's prompt appeared and an app is to be started by hand (`BootOptions.app`). */
  startApp(): void;
}

export class BootPhases {
  readonly #marks = new Map<BootPhaseName, Moment>();
  #cpuWatched = false;
  #line: number[] = [];
  #tail = '';
  /** Matched against bytes seen as Latin-1 characters, so encoded the same way. */
  readonly #readyMarker: string;
  readonly #appMarker: string | undefined;
  /** Known guest messages, from serial lines and the VGA text screen alike. */
  readonly guest = new GuestMessages();

  /** `appMarker`: the app's ready marker, when an app is started by hand after `readyMarker`. */
  constructor(
    readyMarker: string,
    appMarker: string | undefined,
    private readonly hooks: PhaseHooks,
  ) {
    this.#readyMarker = latin1OfUtf8(readyMarker);
    this.#appMarker = appMarker === undefined ? undefined : latin1OfUtf8(appMarker);
  }

  has(phase: BootPhaseName): boolean {
    return this.#marks.has(phase);
  }

  /** A new boot (reset): everything is detected again. */
  clear(): void {
    this.#marks.clear();
    this.#cpuWatched = false;
    this.#tail = '';
    this.#line.length = 0;
    this.guest.clear();
  }

  /** The VGA text screen's lines (polled): firmware and a VGA console print there, not on serial. */
  screenLines(lines: readonly string[]): void {
    for (const m of this.guest.screen(lines)) this.hooks.guestMessage(m);
  }

  /** A restored machine is past its boot: nothing to detect. */
  restored(): void {
    for (const p of ['firmware', 'kernel', 'userspace', 'ready'] as const) this.#marks.set(p, { at: 0, instructions: 0 });
  }

  /** Guest text, one byte at a time, straight from the UART. */
  serialByte(b: number): void {
    if (b === 10) {
      this.#onLine(new TextDecoder().decode(new Uint8Array(this.#line)).replace(/\r$/, ''));
      this.#line.length = 0;
    } else if (this.#line.length < LINE_MAX) {
      this.#line.push(b);
    }
    if (this.#marks.has('ready')) return;
    this.#tail = (this.#tail + String.fromCharCode(b)).slice(-256);
    // No ready marker: the guest is "running", never "ready" (its first output is not a prompt).
    if (!this.#marks.has('userspace') && this.#readyMarker && this.#tail.endsWith(this.#readyMarker)) this.#onReadyMarker();
    else if (this.#appMarker && this.#marks.has('userspace') && this.#tail.endsWith(this.#appMarker)) this.#markPhase('ready', 'console');
  }

  /**
   * Watches for the kernel taking over (paging switched on) and for the first user-mode code (init),
   * for kernels that print neither (`quiet`). v86 calls run_hardware_timers from inside its main loop
   * every ~100k guest instructions, so sampling there sees even a short-lived init; the hook goes
   * away once the kernel phase has ended (seen here or on the console).
   */
  watchCpu(cpu: V86Cpu): void {
    if (this.#cpuWatched) return;
    this.#cpuWatched = true;
    const timers = cpu.run_hardware_timers;
    cpu.run_hardware_timers = (acpi, now) => {
      // Marked as they happen (a quiet Debian spends minutes in userspace: the timeline must say so).
      if (!this.#marks.has('firmware') && cpu.cr[0] & 0x80000000) this.#markPhase('firmware', 'cpu');
      if (this.#marks.has('firmware') && !this.#marks.has('kernel') && cpu.cpl[0] === 3) this.#markPhase('kernel', 'cpu');
      if (this.#marks.has('kernel')) {
        cpu.run_hardware_timers = timers;
        this.#cpuWatched = false;
      }
      return timers.call(cpu, acpi, now);
    };
  }

  #onLine(line: string): void {
    if (!this.#marks.has('firmware') && KERNEL_LINE.test(line)) this.#markPhase('firmware', 'console');
    if (!this.#marks.has('kernel') && RUN_INIT.test(line)) this.#markPhase('kernel', 'console');
    const known = this.guest.line(line);
    if (known) this.hooks.guestMessage(known);
  }

  #onReadyMarker(): void {
    const now = this.hooks.now();
    // Kernels booted with `quiet` print neither their banner nor "Run /init": the CPU watch marks them
    // (paging on: the decompressed kernel runs; first user-mode code: init runs). A guest it did not
    // see do either ends both phases here.
    this.#markPhase('firmware', 'cpu', now);
    this.#markPhase('kernel', 'cpu', now);
    this.#markPhase('userspace', 'console', now);
    if (this.#appMarker) this.hooks.startApp();
    else this.#markPhase('ready', 'console', now);
  }

  #markPhase(phase: BootPhaseName, detectedBy: PhaseMark['detectedBy'], m: Moment = this.hooks.now()): void {
    if (this.#marks.has(phase)) return;
    this.#marks.set(phase, m);
    this.hooks.mark({ phase, ...m, ...(detectedBy ? { detectedBy } : {}) });
  }
}

function latin1OfUtf8(s: string): string {
  return String.fromCharCode(...new TextEncoder().encode(s));
}
