// One machine as the page sees it: a worker (through MachineBridge), its serial console, boot phases,
// stats, screen and controls. Components read its $state fields; the terminal attaches as a SerialPort.

import type { Manifest, ScriptStep } from '../../../images/manifest.ts';
import { MachineBridge, MachineRequestError, type RequestCommand } from '../../../worker/bridge.ts';
import { imageStore, type SavedStateMeta } from '../../../worker/image-store.ts';
import { phaseSegments, type Segment } from '../../../worker/phases.ts';
import type { NetworkCounters, NetworkOptions } from '../../../worker/network.ts';
import type { ArtifactSource, BootOptions, CommandAnswer, CommandProgress, KeyPress, MachineError, MachineEvents, MachineStats, PhaseMark, ScreenMode } from '../../../worker/protocol.ts';
import { repeatedCrash } from '../../../worker/guest-messages.ts';
import { SerialText } from '../../../worker/serial-text.ts';
import { recordBootTime } from '../lib/boot-times.ts';
import type { SerialPort } from '../lib/serial-addon.ts';
import { ExpectedError, type UserError } from '../lib/user-error.ts';

export type SessionStatus = 'idle' | 'loading' | 'running' | 'paused' | 'stopped' | 'failed';

export interface BootRequest {
  manifest: Manifest;
  source: ArtifactSource;
  /** A distro's app to start by hand after its prompt (BootOptions.app). */
  app?: string;
  memoryMB?: number;
  restoreStateId?: string;
  /** Appended to the kernel command line (e.g. `printk.time=1` for a timed boot log). */
  cmdlineAppend?: string;
  /** Give the machine a host share (BootOptions.share); default: the manifest's `share`. */
  share?: boolean;
  /** The network card's connection (BootOptions.network; web/src/lib/network-choice.ts picks it). */
  network?: NetworkOptions;
}

/** Serial bytes kept for terminals that attach late. */
const BACKLOG_BYTES = 2 << 20;
/** Decoded serial text kept for the boot log. */
const TEXT_KEEP = 1 << 20;

/** Errors that mean a bug or a crash (short message, details in the console) rather than a bad image. */
const UNEXPECTED: MachineError['code'][] = ['internal', 'emulator-crashed', 'worker-crashed', 'bad-message'];
/** Errors after which the machine is gone. */
const FATAL: MachineError['code'][] = ['worker-crashed', 'emulator-crashed', 'guest-panic', 'guest-boot-failed'];

export class MachineSession implements SerialPort {
  status = $state<SessionStatus>('idle');
  phases = $state<PhaseMark[]>([]);
  stats = $state<MachineStats | null>(null);
  screenMode = $state<ScreenMode | null>(null);
  progress = $state<MachineEvents['progress'] | null>(null);
  /** A streaming boot's files fetched, read from and kept in this browser (`keep` sources only). */
  kept = $state<MachineEvents['kept'] | null>(null);
  error = $state<UserError | null>(null);
  /** Milliseconds since the machine started executing, ticking while it boots (for live timelines). */
  now = $state(0);
  /** Each new worker gets a new number: the screen canvas must be re-created for it. */
  generation = $state(0);
  savedStates = $state<SavedStateMeta[]>([]);
  lastSave = $state<MachineEvents['state-saved'] | null>(null);
  busy = $state<string | null>(null);
  request = $state.raw<BootRequest | null>(null);
  /** Memory (MiB) the guest asked for by dying without it (an initrd panic): offered as "Boot again with". */
  suggestedMemoryMB = $state<number | null>(null);
  /** Counts `share-changed` events: the host share's files changed (the Files panel lists them again). */
  shareChanges = $state(0);
  /** The network card's address and packet counts (the `network` event), for a machine booted on a network. */
  network = $state<NetworkCounters | null>(null);
  /** Bytes and lines the guest wrote on its serial console this boot (a screen-first view folds a quiet one away). */
  serialBytes = $state(0);
  serialLines = $state(0);

  #bridge: MachineBridge | undefined;
  #listeners = new Set<(bytes: Uint8Array) => void>();
  #backlog: Uint8Array[] = [];
  #backlogBytes = 0;
  readonly #text = new SerialText(TEXT_KEEP);
  #readyWaiters = new Set<(mark: PhaseMark | Error) => void>();
  #startedAt = 0;
  #pausedAt = 0;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #screen: OffscreenCanvas | null = null;
  /** The emulator crashed on this boot / on the boot before it (a crash that repeats: v86 cannot run the image). */
  #crashed = false;
  #crashedBefore = false;
  #scriptsRunning = 0;
  /** The guest's last serial line has started and not yet ended (for `serialLines`). */
  #lineOpen = false;

  constructor(readonly label: string) {}

  get segments(): Segment[] {
    const ready = this.phases.some((p) => p.phase === 'ready');
    const live = this.status === 'running' || this.status === 'paused';
    return phaseSegments(this.phases, { now: live && !ready ? this.now : undefined, withApp: Boolean(this.request?.app) });
  }

  get ready(): PhaseMark | undefined {
    return this.phases.find((p) => p.phase === 'ready');
  }

  /** The serial console as text (its recent part). Not reactive: read it when `ready` fires. */
  get text(): string {
    return this.#text.text;
  }

  // ---- serial port (for the terminal) ----

  onSerial(listener: (bytes: Uint8Array) => void): () => void {
    for (const chunk of this.#backlog) listener(chunk);
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  sendSerial(bytes: Uint8Array): void {
    if (this.status === 'running') this.#send({ type: 'serial-in', bytes });
  }

  keys(keys: KeyPress[]): void {
    if (this.status === 'running') this.#send({ type: 'keyboard', keys });
  }

  /** The VGA text screen as lines (for copying it, and as the canvas's text for screen readers). */
  async screenText(): Promise<string[]> {
    if (!this.#bridge) return [];
    return (await this.#bridge.request({ type: 'screen-text' })).lines;
  }

  /** Gives the VGA canvas to the worker; returns a function that takes it back. */
  attachScreen = (canvas: OffscreenCanvas): (() => void) => {
    this.#screen = canvas;
    this.#send({ type: 'screen', canvas });
    return () => {
      if (this.#screen !== canvas) return;
      this.#screen = null;
      this.#send({ type: 'screen', canvas: null });
    };
  };

  // ---- life ----

  /**
   * Boots an image (or restores a saved state) in a fresh worker. Resolves once the machine runs.
   * `sameWorker`: a restore of the machine that runs goes to its worker, which loads the state into
   * its emulator (worker/endpoint.ts) — no new worker, wasm instance or screen.
   */
  async boot(req: BootRequest, { sameWorker = false } = {}): Promise<void> {
    const reuse = sameWorker && this.#bridge?.alive === true;
    if (reuse) {
      this.#stopTicker();
      for (const w of [...this.#readyWaiters]) w(new DOMException('machine restored', 'AbortError'));
    } else this.#teardown();
    this.request = req;
    this.phases = [];
    this.stats = null;
    this.network = null;
    this.error = null;
    this.suggestedMemoryMB = null;
    // One session per image: a crash on its last boot, then another now, means v86 cannot run it.
    this.#crashedBefore = this.#crashed && !req.restoreStateId;
    this.#crashed = false;
    this.progress = null;
    this.kept = null;
    this.screenMode = null;
    this.now = 0;
    this.#clearConsole();
    this.status = 'loading';
    let bridge = this.#bridge;
    if (!reuse || !bridge) {
      this.generation++;
      bridge = new MachineBridge();
      this.#bridge = bridge;
      this.#wire(bridge);
    }
    void this.refreshStates();
    const options: BootOptions = { manifest: $state.snapshot(req.manifest) as Manifest, source: req.source };
    if (req.app) options.app = req.app;
    if (req.memoryMB) options.memoryMB = req.memoryMB;
    if (req.restoreStateId) options.restoreStateId = req.restoreStateId;
    if (req.cmdlineAppend) options.cmdlineAppend = req.cmdlineAppend;
    if (req.share !== undefined) options.share = req.share;
    if (req.network) options.network = req.network;
    try {
      await bridge.request({ type: 'boot', options });
    } catch (e) {
      // Replaced by another boot or stopped (also while loading: the worker answers not-running): not a failure of this one.
      const stopped = e instanceof MachineRequestError && e.error.code === 'not-running';
      if (this.#bridge === bridge && bridge.alive && !stopped) this.status = 'failed';
      throw this.#asError(e);
    }
  }

  pause = () => this.#control({ type: 'pause' });
  resume = () => this.#control({ type: 'resume' });
  reset = async () => {
    this.phases = [];
    this.now = 0;
    this.#startedAt = performance.now();
    this.#clearConsole();
    await this.#control({ type: 'reset' });
    this.#startTicker();
  };

  /** Stops the machine and ends its worker (frees its memory). */
  stop = async (): Promise<void> => {
    const bridge = this.#bridge;
    if (!bridge) return;
    await bridge.request({ type: 'stop' }).catch(() => undefined); // a broken machine: terminating is what matters
    this.#teardown();
    this.status = 'stopped';
  };

  /** Saves the machine's state in this browser. */
  save = async (label?: string): Promise<void> => {
    if (!this.#bridge) return;
    this.busy = 'Saving state…';
    try {
      this.lastSave = await this.#bridge.request({ type: 'save-state', target: 'store', prepare: true, ...(label ? { label } : {}) });
      await this.refreshStates();
    } catch (e) {
      console.warn('save-state failed', e); // the error event shows it
    } finally {
      this.busy = null;
    }
  };

  /** Restores a saved state: the machine resumes where it was saved (in its own worker while it runs). */
  restore = async (stateId: string): Promise<void> => {
    const req = this.request;
    if (!req) return;
    const live = this.status === 'running' || this.status === 'paused';
    await this.boot({ ...req, restoreStateId: stateId }, { sameWorker: live }).catch(() => undefined); // shown via `error`
  };

  async refreshStates(): Promise<void> {
    const name = this.request?.manifest.name;
    if (name) this.savedStates = await imageStore.listStates(name).catch(() => []);
  }

  /**
   * Runs a script with the machine's own runner (worker/script-runner.ts: each line typed once the
   * previous answer and the prompt appeared); `onStep` sees each step typed, answered or failed.
   */
  async runScript(steps: ScriptStep[], opts: { onStep?: (s: MachineEvents['script-step']) => void; signal?: AbortSignal } = {}): Promise<MachineEvents['script-done']> {
    if (!this.#bridge) throw new ExpectedError('The machine is not running.', 'Boot it first.');
    this.#scriptsRunning++;
    try {
      return await this.#bridge.request({ type: 'run-script', steps }, { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onStep ? { onProgress: opts.onStep } : {}) });
    } finally {
      this.#scriptsRunning--;
    }
  }

  /** Sends a command to the running machine and resolves with its answer (the Files panel's `share-*`). */
  async command<C extends RequestCommand>(cmd: C, opts: { onProgress?: (data: CommandProgress<C['type']>) => void } = {}): Promise<CommandAnswer<C['type']>> {
    if (!this.#bridge) throw new ExpectedError('The machine is not running.', 'Boot it first.');
    return this.#bridge.request(cmd, opts);
  }

  /** A script is typing: attached terminals do not answer the guest's queries meanwhile (SerialPort). */
  get scriptTyping(): boolean {
    return this.#scriptsRunning > 0;
  }

  /** Resolves with the `ready` mark (the app's prompt); rejects if the machine fails first or on timeout. */
  whenReady(timeoutMs: number, signal?: AbortSignal): Promise<PhaseMark> {
    const now = this.ready;
    if (now) return Promise.resolve(now);
    const m = this.request?.manifest;
    if (m && !m.readyMarker && !this.request?.app && !this.request?.restoreStateId) {
      return Promise.reject(new ExpectedError(`${m.name} has no ready text, so the lab cannot tell when it is ready.`, `Boot it on its own, then set "Mark ready when this text appears" on its Machine page.`));
    }
    return new Promise((resolve, reject) => {
      const finish = () => {
        clearTimeout(timer);
        this.#readyWaiters.delete(waiter);
        signal?.removeEventListener('abort', abort);
      };
      const waiter = (mark: PhaseMark | Error) => {
        finish();
        if (mark instanceof Error) reject(mark);
        else resolve(mark);
      };
      const abort = () => waiter(signal?.reason instanceof Error ? signal.reason : new DOMException('cancelled', 'AbortError'));
      const timer = setTimeout(
        () => waiter(new ExpectedError(`${this.label} did not reach its prompt within ${Math.round(timeoutMs / 1000)} s.`, 'The host may be busy: try again with fewer machines at once.')),
        timeoutMs,
      );
      this.#readyWaiters.add(waiter);
      signal?.addEventListener('abort', abort);
    });
  }

  dispose(): void {
    this.#teardown();
    this.#listeners.clear();
    if (this.status !== 'idle') this.status = 'stopped';
  }

  // ---- internals ----

  #send(cmd: Parameters<MachineBridge['send']>[0]): void {
    try {
      this.#bridge?.send(cmd);
    } catch (e) {
      // The worker is gone (the crash was reported as an error event).
      console.warn(`${cmd.type}: ${(e as Error).message}`);
    }
  }

  async #control(cmd: RequestCommand): Promise<void> {
    try {
      await this.#bridge?.request(cmd);
    } catch (e) {
      console.warn(`${cmd.type} failed`, e); // the error event already reported it
    }
  }

  #asError(e: unknown): unknown {
    if (e instanceof MachineRequestError) {
      if (e.error.code === 'not-running') return new DOMException('machine replaced', 'AbortError');
      return new ExpectedError(e.error.message, e.error.hint, { cause: e });
    }
    return e;
  }

  #wire(bridge: MachineBridge): void {
    const mine = () => this.#bridge === bridge;
    bridge.on('serial-out', (bytes) => mine() && this.#serial(bytes));
    bridge.on('phase', (mark) => {
      if (!mine()) return;
      this.phases = [...this.phases, mark];
      if (mark.phase !== 'load' && mark.phase !== 'restored') this.now = Math.max(this.now, mark.at);
      if (mark.phase === 'ready') {
        for (const w of [...this.#readyWaiters]) w(mark);
        // The Library's per-card figure: plain boots only (extra kernel options or memory change the time).
        const r = this.request;
        if (r && !r.cmdlineAppend && !r.memoryMB && !r.app && !r.restoreStateId) recordBootTime(r.manifest.name, mark.at);
      }
      if (mark.phase === 'restored') {
        // The guest does not print anything on its own after a restore: say what happened.
        const meta = this.savedStates.find((st) => st.id === this.request?.restoreStateId);
        const when = meta ? ` saved ${new Date(meta.createdAt).toLocaleString()}` : '';
        this.#echo(`\x1b[2m[whittle] Restored the state${when} in ${mark.at} ms. Press Enter for a prompt.\x1b[0m\r\n`);
      }
    });
    bridge.on('network', (n) => {
      if (mine()) this.network = n;
    });
    bridge.on('share-changed', () => {
      if (mine()) this.shareChanges++;
    });
    bridge.on('stats', (s) => {
      if (mine()) this.stats = s;
    });
    bridge.on('kept', (k) => {
      if (mine()) this.kept = k;
    });
    bridge.on('progress', (p) => {
      if (mine()) this.progress = p.done >= p.total ? null : p;
    });
    bridge.on('screen-mode', (m) => {
      if (mine()) this.screenMode = m;
    });
    bridge.on('state', ({ status }) => {
      if (!mine()) return;
      const was = this.status;
      if (status === 'running' && was === 'loading') {
        this.#startedAt = performance.now();
        this.progress = null;
        this.#startTicker();
      }
      if (status === 'paused') this.#pausedAt = performance.now();
      if (status === 'running' && was === 'paused' && this.#pausedAt) this.#startedAt += performance.now() - this.#pausedAt;
      if (status === 'stopped') this.#stopTicker();
      // A failed machine stays "failed" when its worker then stops.
      if (!(was === 'failed' && status === 'stopped')) this.status = status;
    });
    bridge.on('error', (e) => {
      if (mine()) this.#error(e);
    });
  }

  #startTicker(): void {
    this.#stopTicker();
    // A restored machine has no boot to time.
    if (this.request?.restoreStateId) return;
    this.#ticker = setInterval(() => {
      if (this.ready) return this.#stopTicker();
      if (this.status === 'running') this.now = Math.max(this.now, performance.now() - this.#startedAt);
    }, 100);
  }

  #stopTicker(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  #error(e: MachineError): void {
    // A command answered "not running" (a boot stopped while loading, a control on a stopped machine):
    // the caller of that request deals with it; nothing went wrong to show.
    if (e.code === 'not-running' && e.id !== undefined) return;
    if (e.code === 'emulator-crashed' && this.status !== 'loading') {
      if (this.#crashedBefore && this.request) e = { ...e, ...repeatedCrash(this.request.manifest.name, e.message.replace(/^The emulator crashed: /, '')) };
      this.#crashed = true;
    }
    if (e.memoryMB) this.suggestedMemoryMB = e.memoryMB;
    const unexpected = UNEXPECTED.includes(e.code);
    if (e.detail || unexpected) console.error(`[${this.label}] ${e.code}: ${e.message}${e.detail ? `\n${e.detail}` : ''}`);
    this.error = { message: e.message, ...(e.hint ? { hint: e.hint } : {}), ...(unexpected ? { unexpected } : {}) };
    if (FATAL.includes(e.code)) {
      this.status = 'failed';
      this.#stopTicker();
    }
    if (this.status === 'failed' || this.status === 'loading') for (const w of [...this.#readyWaiters]) w(new ExpectedError(e.message, e.hint));
    // The terminal shows what went wrong where the user is looking.
    this.#echo(`\r\n\x1b[1;31m[whittle] ${e.message}\x1b[0m${e.hint ? `\r\n\x1b[2m${e.hint}\x1b[0m` : ''}\r\n`);
  }

  #echo(text: string): void {
    this.#serial(new TextEncoder().encode(text), false);
  }

  #serial(bytes: Uint8Array, fromGuest = true): void {
    this.#backlog.push(bytes);
    this.#backlogBytes += bytes.length;
    while (this.#backlogBytes > BACKLOG_BYTES && this.#backlog.length > 1) this.#backlogBytes -= this.#backlog.shift()!.length;
    for (const l of this.#listeners) l(bytes);
    if (!fromGuest) return;
    this.#text.push(bytes);
    // A line is counted when it starts: "1 line" as soon as any text arrived.
    let lines = 0;
    for (const b of bytes) {
      if (b === 10) {
        this.#lineOpen = false;
      } else if (!this.#lineOpen && b !== 13) {
        this.#lineOpen = true;
        lines++;
      }
    }
    this.serialBytes += bytes.length;
    if (lines) this.serialLines += lines;
  }

  #clearConsole(): void {
    this.#backlog = [];
    this.#backlogBytes = 0;
    this.#text.clear();
    this.serialBytes = 0;
    this.serialLines = 0;
    this.#lineOpen = false;
    // Clear attached terminals too (ESC c: full reset).
    for (const l of this.#listeners) l(new TextEncoder().encode('\x1bc'));
  }

  #teardown(): void {
    this.#stopTicker();
    const bridge = this.#bridge;
    this.#bridge = undefined;
    bridge?.terminate();
    this.#screen = null;
    for (const w of [...this.#readyWaiters]) w(new DOMException('machine replaced', 'AbortError'));
  }
}
