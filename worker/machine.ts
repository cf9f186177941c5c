// One emulated PC's life: load an image's artifacts, boot or restore v86, run, pause, reset, stop,
// and its serial console batched into chunks. The rest lives beside it: boot-phases.ts (phase
// detection), liveness.ts (stats, stuck guests), serial-text.ts + script-runner.ts (console text and
// scripts), saved-state.ts, v86-glue.ts (what v86 offers beyond its API).
// Environment-neutral (no DOM, no Node): the same code runs in a browser worker and a Node thread.

import type { V86Options } from 'v86';
import type { Artifact, Manifest, ScriptStep } from '../images/manifest.ts';
import type { ArtifactLoader, V86DiskBuffer } from './artifacts.ts';
import { ArtifactError } from './artifacts.ts';
import { BootPhases } from './boot-phases.ts';
import { initrdUnpackedEstimate } from './guest-messages.ts';
import type { Moment } from './boot-phases.ts';
import { MachineFailure, toMachineError } from './errors.ts';
import { scancodesFor } from './keyboard.ts';
import { enterLinux, planLinuxBoot } from './linux-boot.ts';
import type { LinuxBootPlan } from './linux-boot.ts';
import { Liveness, STATS_MS, stallLimitMs } from './liveness.ts';
import type { BootOptions, EventName, KeyPress, MachineError, MachineEvents, MachineStatus } from './protocol.ts';
import { loadState, saveState } from './saved-state.ts';
import type { SaveResult, StateStore } from './saved-state.ts';
import type { CanvasScreen } from './screen.ts';
import { runScript } from './script-runner.ts';
import type { ScriptResult, StepState } from './script-runner.ts';
import { SerialText } from './serial-text.ts';
import { networkCmdline } from './network.ts';
import { NetworkLink, v86NetworkOptions } from './network-link.ts';
import type { HttpRequest } from './network-link.ts';
import type { HttpResponse } from './network.ts';
import { HostShare } from './share.ts';
import { SHARE_MOUNT_COMMAND } from './share-path.ts';
import { attachScreen, bufferOf, createEmulator, destroyEmulator, guardMainLoop, haltEmulator, MiB } from './v86-glue.ts';
import type { Emulator } from './v86-glue.ts';

export type Emit = <K extends EventName>(event: K, data: MachineEvents[K]) => void;
export type { StateStore } from './saved-state.ts';

export interface MachineEnv {
  emit: Emit;
  /** v86's wasm, compiled once per worker (instantiating a compiled module is fast). */
  v86Module(): Promise<WebAssembly.Module>;
  states?: StateStore;
}

/** Serial chunks go out at most this often (the first byte after a quiet spell goes out at once). */
const SERIAL_FLUSH_MS = 8;
/** Decoded serial text kept for scripts. */
const TEXT_KEEP = 1 << 20;
/** `share-changed` goes out at most this often while the guest writes to the share. */
const SHARE_CHANGED_MS = 250;
/** Where v86 loads an initrd in guest memory (src/kernel.js). */
const INITRD_ADDRESS = 64 * MiB;

/** Two boots that give the same machine: image, memory, devices, network, app and command line. */
export function sameMachine(a: BootOptions, b: BootOptions): boolean {
  const shape = (o: BootOptions) =>
    JSON.stringify({
      image: o.manifest.name,
      artifacts: o.manifest.artifacts.map((x) => x.sha256),
      memoryMB: o.memoryMB ?? o.manifest.memoryMB,
      share: o.share ?? o.manifest.share ?? false,
      network: o.network ?? null,
      virtioConsole: o.virtioConsole ?? false,
      app: o.app ?? null,
      cmdlineAppend: o.cmdlineAppend ?? '',
    });
  return shape(a) === shape(b);
}

export class Machine {
  #status: MachineStatus = 'idle';
  #emulator: Emulator | undefined;
  /** After stop (or a crash): emit nothing more, release everything. */
  #ended = false;
  #failure: MachineError | undefined;
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
  readonly #text = new SerialText(TEXT_KEEP);

  readonly #phases: BootPhases;
  readonly #liveness: Liveness;
  #statsTimer: ReturnType<typeof setInterval> | undefined;

  #scripts: Promise<unknown> = Promise.resolve();
  /** The prompt scripts wait for between lines (the app's, for a distro that starts one). */
  readonly #prompt: string;
  /** The loaded artifacts as v86 options, kept for a reset. */
  #settings: V86Options | undefined;
  /** For an image with a vmlinux: what to put in memory and how to enter the kernel (no firmware). */
  #directBoot: LinuxBootPlan | undefined;
  #restored = false;
  /** The host share (v86's 9p filesystem), for a machine booted with one. */
  #share: HostShare | undefined;
  #shareChangedTimer: ReturnType<typeof setTimeout> | undefined;
  /** The network card's link (network-link.ts), for a machine booted on the lab or the web; one per emulator. */
  #network: NetworkLink | undefined;

  constructor(
    private readonly env: MachineEnv,
    private readonly loader: ArtifactLoader,
    readonly options: BootOptions,
    private readonly screen: CanvasScreen,
  ) {
    this.#memoryBytes = (options.memoryMB ?? options.manifest.memoryMB) * MiB;
    const app = options.app ? options.manifest.apps?.find((a) => a.name === options.app) : undefined;
    if (options.app && !app && options.manifest.app !== options.app) {
      throw new MachineFailure('bad-image', `Image ${options.manifest.name} has no app "${options.app}".`, `Choose one of: ${(options.manifest.apps ?? []).map((a) => a.name).join(', ') || 'none'}.`);
    }
    this.#prompt = app?.readyMarker ?? options.manifest.readyMarker;
    this.#phases = new BootPhases(options.manifest.readyMarker, app?.readyMarker, {
      now: () => this.#moment(),
      mark: (mark) => {
        // The console text that led to this mark goes out before the mark does.
        this.#flush();
        this.#emit('phase', mark);
      },
      guestMessage: ({ code, message, hint, memoryMB }) => {
        this.#flush();
        this.#emit('error', { code, message, hint, ...(memoryMB ? { memoryMB } : {}) });
      },
      startApp: () => {
        if (app) this.#type(`${app.command}\r`);
      },
    });
    this.#liveness = new Liveness(stallLimitMs(options), this.#memoryBytes);
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
    const state = restoring ? await loadState(this.options, this.env.states) : undefined;
    if (this.#ended) return;
    this.#emit('phase', { phase: 'load', at: Math.round(performance.now() - loadStart), instructions: 0 });

    const emulator = await this.#newEmulator(settings);
    if (!emulator) return;
    if (state) await this.#restoreState(emulator, state);
    this.#run(emulator, restoring);
  }

  /** Loads a saved state into `emulator` and emits the `restored` mark; a state v86 refuses is a bad image. */
  async #restoreState(emulator: Emulator, state: ArrayBuffer): Promise<void> {
    const t = performance.now();
    try {
      await emulator.restore_state(state);
    } catch (e) {
      throw new MachineFailure('bad-image', 'The saved state could not be loaded: it is damaged, or was saved from a different image or emulator version.', 'Boot the image normally and save a new state.', { cause: e });
    }
    this.#emit('phase', { phase: 'restored', at: Math.round(performance.now() - t), instructions: 0 });
  }

  async #loadArtifacts(manifest: Manifest, restoring: boolean): Promise<V86Options> {
    const byRole = (role: Artifact['role']) => manifest.artifacts.find((a) => a.role === role);
    // An appliance with a vmlinux is entered directly; everything else boots through SeaBIOS.
    const direct = byRole('vmlinux') !== undefined;
    if (!direct && (!byRole('bios') || !byRole('vgabios'))) {
      throw new ArtifactError('bad-image', `Image ${manifest.name} has no firmware (bios and vgabios artifacts).`, 'Rebuild the image, or import it together with firmware.');
    }
    // A restored machine's kernel and initrd are already in its saved memory: skip them.
    const wanted = manifest.artifacts.filter((a) => !(restoring && (a.role === 'kernel' || a.role === 'vmlinux' || a.role === 'initrd')));
    const signal = this.#abort.signal;
    const settings: V86Options = {};
    const raws = new Map<Artifact['role'], Uint8Array>();
    let done = 0;
    const total = wanted.reduce((n, a) => n + a.size, 0);
    for (const a of wanted) {
      this.#emit('progress', { what: `loading ${a.role}`, done, total });
      if (a.role === 'disk' || a.role === 'cdrom') {
        const disk = await this.loader.openDisk(a, signal);
        (settings as Record<string, unknown>)[a.role === 'disk' ? 'hda' : 'cdrom'] = disk as V86DiskBuffer;
      } else {
        const raw = await this.loader.load(a, signal);
        raws.set(a.role, raw);
        const image = { buffer: bufferOf(raw) };
        if (a.role === 'bios') settings.bios = image;
        else if (a.role === 'vgabios') settings.vga_bios = image;
        else if (a.role === 'kernel') settings.bzimage = image;
        else if (a.role === 'initrd' && !direct) settings.initrd = image;
      }
      done += a.size;
      if (this.#ended) break;
    }
    this.#emit('progress', { what: 'loaded', done: total, total });
    const initrdRaw = raws.get('initrd');
    this.#phases.guest.ctx = {
      memoryMB: this.#memoryBytes / MiB,
      ...(byRole('cdrom') ? { bootDevice: 'cdrom' as const } : byRole('disk') ? { bootDevice: 'disk' as const } : {}),
      ...(initrdRaw ? { initrdBytes: initrdRaw.length, initrdUnpackedBytes: initrdUnpackedEstimate(initrdRaw.subarray(0, 16), initrdRaw.subarray(-4), initrdRaw.length) } : {}),
    };
    const cmdline = [manifest.cmdline, networkCmdline(this.options.network), this.options.cmdlineAppend].filter(Boolean).join(' ');
    this.#directBoot = undefined;
    if (restoring) return settings;
    if (direct) {
      // Checked before any emulator exists: a kernel or initrd that does not fit fails the boot cleanly.
      this.#directBoot = planLinuxBoot({ vmlinux: raws.get('vmlinux')!, initrd: raws.get('initrd'), cmdline, memoryBytes: this.#memoryBytes });
      return settings;
    }
    // v86 (src/kernel.js) puts the initrd at a fixed 64 MiB: the guest needs memory above it.
    const initrd = byRole('initrd');
    if (initrd && this.#memoryBytes < INITRD_ADDRESS + initrd.size) {
      const need = Math.ceil((INITRD_ADDRESS + initrd.size) / MiB) + 1;
      throw new MachineFailure('bad-image', `${manifest.name} needs more than ${need - 1} MiB of memory: v86 loads the initrd at 64 MiB.`, `Give the machine at least ${need} MiB (memoryMB).`);
    }
    if (cmdline) settings.cmdline = cmdline;
    return settings;
  }

  /** A v86 instance from loaded artifacts, wired to this machine; undefined when stopped meanwhile. */
  async #newEmulator(settings: V86Options): Promise<Emulator | undefined> {
    const module = await this.env.v86Module();
    if (this.#ended) return undefined;
    const share = this.options.share ?? this.options.manifest.share ?? false;
    const net = this.options.network;
    const emulator = await createEmulator({ ...settings, ...v86NetworkOptions(net) }, module, { memoryBytes: this.#memoryBytes, virtioConsole: this.options.virtioConsole, share });
    if (this.#ended) {
      await destroyEmulator(emulator);
      return undefined;
    }
    this.#emulator = emulator;
    if (share) {
      const fresh = new HostShare(emulator.fs9p!, () => this.#shareTouched());
      // A reset's new machine keeps the old one's files, as a PC keeps its disk.
      if (this.#share) await fresh.adopt(this.#share);
      this.#share = fresh;
    }
    this.#network?.close();
    this.#network = net && net.mode !== 'off' ? new NetworkLink(emulator, net) : undefined;
    // Before the CPU runs its first instruction: the kernel and initrd in memory, the CPU at its entry.
    if (this.#directBoot) enterLinux(emulator.v86!.cpu, this.#directBoot);
    guardMainLoop(emulator, (e) => this.#crash(e));
    this.#phases.watchCpu(emulator.v86!.cpu);
    emulator.add_listener('emulator-stopped', () => this.screen.setRunning(false));
    emulator.add_listener('emulator-started', () => this.screen.setRunning(true));
    emulator.add_listener('serial0-output-byte', (b) => this.#onSerialByte(b));
    emulator.add_listener('virtio-console0-output-bytes', (bytes) => this.#emit('virtio-out', bytes.slice()));
    emulator.add_listener('ide-read-end', ([, bytes]) => {
      this.#liveness.diskRead += bytes;
    });
    emulator.add_listener('9p-read-end', ([, bytes]) => {
      this.#liveness.fsRead += bytes;
    });
    attachScreen(emulator, this.screen);
    return emulator;
  }

  #run(emulator: Emulator, restored: boolean): void {
    this.#instrLastRaw = emulator.get_instruction_counter();
    this.#instrTotal = 0;
    this.#t0 = performance.now();
    this.#lastOutputAt = this.#t0;
    this.#liveness.started(this.#t0);
    if (restored) this.#phases.restored();
    void emulator.run();
    this.screen.setRunning(true);
    this.#statsTimer = setInterval(() => this.#tickStats(), STATS_MS);
    this.#setStatus('running');
  }

  // ---- time and instructions ----

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

  #moment(): Moment {
    return { at: Math.round(this.#elapsed()), instructions: this.#instructions() };
  }

  // ---- serial output ----

  /** Guest text, one byte at a time, straight from the UART: batched out, scanned for boot phases. */
  #onSerialByte(b: number): void {
    if (this.#outLen === this.#out.length) {
      const bigger = new Uint8Array(this.#out.length * 2);
      bigger.set(this.#out);
      this.#out = bigger;
    }
    this.#out[this.#outLen++] = b;
    this.#liveness.serialBytes++;
    this.#scheduleFlush();
    this.#phases.serialByte(b);
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
    // Emitting transfers (detaches) the chunk: decode it first.
    this.#text.push(chunk);
    if (this.options.serial !== false) this.#emit('serial-out', chunk);
  }

  // ---- stats and liveness ----

  #tickStats(): void {
    if (!this.#emulator || this.#ended) return;
    const { stats, stuck } = this.#liveness.tick({
      now: performance.now(),
      instructions: this.#instructions(),
      uptimeMs: this.#elapsed(),
      running: this.#status === 'running',
      ready: this.#phases.has('ready'),
      lastOutputAt: this.#lastOutputAt,
      cpu: this.#emulator.v86?.cpu,
    });
    this.#emit('stats', stats);
    const counters = this.#network?.takeCounters();
    if (counters) this.#emit('network', counters);
    for (const e of stuck) this.#emit('error', e);
    // Firmware (SeaBIOS) and a kernel's VGA console print on the screen only.
    this.#phases.screenLines(this.screen.textLines());
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
   * Whether a saved state booted with `options` can go into this machine's own emulator: the same
   * image booted the same way (memory, devices, network, app), running or paused, with no disk — a
   * disk keeps what was written since the state was saved, which the state's page cache would not match.
   */
  canRestoreInPlace(options: BootOptions): boolean {
    if (this.#ended || !this.#emulator || (this.#status !== 'running' && this.#status !== 'paused')) return false;
    if (options.restoreState === undefined && options.restoreStateId === undefined) return false;
    if (this.#settings?.hda || this.#settings?.cdrom) return false;
    return sameMachine(this.options, options);
  }

  /**
   * Restores a saved state into the running emulator instead of a new one (v86 loads a state into a
   * live instance): on a warm machine a new instance was ~45 ms of a ~180 ms restore. Phases, the
   * clock and the instruction count start again, as after a restore by boot.
   */
  async restoreInPlace(options: Pick<BootOptions, 'restoreState' | 'restoreStateId'>): Promise<void> {
    const e = this.#running();
    const state = await loadState(options, this.env.states);
    if (this.#ended) return;
    this.#flush();
    clearInterval(this.#statsTimer);
    this.#setStatus('loading');
    this.#emit('phase', { phase: 'load', at: 0, instructions: 0 });
    await e.stop();
    try {
      await this.#restoreState(e, state);
    } catch (failure) {
      // Half loaded: this machine's memory is no longer its own. End it, as a failed boot would.
      this.#fail(failure);
      return;
    }
    this.#restored = true;
    this.#phases.clear();
    this.#pausedTotal = 0;
    this.#run(e, true);
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
    this.#network?.close();
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
    this.#phases.clear();
    this.#pausedTotal = 0;
    const emulator = await this.#newEmulator(this.#settings);
    if (!emulator) return;
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
    clearTimeout(this.#shareChangedTimer);
    this.#network?.close();
    this.#text.close(new MachineFailure('not-running', 'The machine stopped.', 'Boot it again.'));
    this.screen.setFramebufferSource(null);
    this.screen.setRunning(false);
    const e = this.#emulator;
    this.#emulator = undefined;
    if (e) await destroyEmulator(e);
  }

  /** The emulator threw (a wasm trap, a bug in v86): report it and stop cleanly. */
  #crash(e: unknown): void {
    if (this.#ended) return;
    if (this.#emulator) haltEmulator(this.#emulator);
    this.#fail(new MachineFailure('emulator-crashed', `The emulator crashed: ${(e as Error)?.message ?? String(e)}`, 'Press Boot again. Saved states and stored images are not affected.', { cause: e }));
  }

  /** An error that ends the machine: report it, then stop. */
  #fail(e: unknown): void {
    if (this.#ended) return;
    this.#failure = toMachineError(e, 'emulator-crashed');
    this.#emit('error', this.#failure);
    void this.stop();
  }

  /** The error that ended the machine, if one did (rather than a stop). */
  get failure(): MachineError | undefined {
    return this.#failure;
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

  /** An HTTP request from the host to the guest over its network card (network-link.ts); `no-network` without one. */
  http(req: HttpRequest): Promise<HttpResponse> {
    this.#running();
    if (!this.#network) throw new MachineFailure('no-network', `${this.options.manifest.name} was booted without a network.`, 'Switch its network to lab or web and boot it again.');
    return this.#network.http(req);
  }

  /** The host share (worker/share.ts); a `no-share` error for a machine booted without one. */
  share(): HostShare {
    this.#running();
    if (!this.#share) {
      const m = this.options.manifest;
      const hint =
        m.kind === 'appliance'
          ? `${m.name} was built without one: its recipe needs "share": true.`
          : `Boot it with a host share (the Files panel's switch), then mount it in the guest: ${SHARE_MOUNT_COMMAND}`;
      throw new MachineFailure('no-share', `${m.name} was booted without a host share.`, hint);
    }
    return this.#share;
  }

  /** The guest (or a put) changed the share: tell the page, at most every SHARE_CHANGED_MS. */
  #shareTouched(): void {
    if (this.#shareChangedTimer !== undefined) return;
    this.#shareChangedTimer = setTimeout(() => {
      this.#shareChangedTimer = undefined;
      this.#emit('share-changed', {});
    }, SHARE_CHANGED_MS);
  }

  /** Runs a script on the serial console (script-runner.ts), after any script already running. */
  runScript(steps: ScriptStep[], onStep?: (step: number, state: StepState) => void): Promise<ScriptResult> {
    const run = () => {
      this.#running();
      const serial = {
        text: () => {
          // Bytes still batched for the page count as printed.
          this.#flush();
          return this.#text;
        },
        type: (text: string) => this.#type(text),
      };
      return runScript(serial, steps, this.#prompt, onStep);
    };
    const result = this.#scripts.then(run, run);
    this.#scripts = result.catch(() => undefined);
    return result;
  }

  /**
   * Saves the machine's state, zstd-compressed (v86 restores `.zst` states natively). With `prepare`,
   * first types the image's `beforeSaveState` line (e.g. dropping caches) so fewer pages are saved.
   */
  async saveState(opts: { label?: string; target?: 'store' | 'transfer'; prepare?: boolean }): Promise<SaveResult> {
    const e = this.#running();
    const prep = this.options.manifest.beforeSaveState;
    if (opts.prepare && prep) {
      const r = await this.runScript([prep]);
      if (!r.ok) throw new MachineFailure('guest-unresponsive', `Preparing the guest for saving failed: ${r.message}`, 'Save without preparing, or wait until the guest is at its prompt.');
    }
    return saveState(e, { manifest: this.options.manifest, memoryBytes: this.#memoryBytes, ...opts, ...(this.env.states ? { states: this.env.states } : {}) });
  }
}
