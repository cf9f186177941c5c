// One machine as the page sees it: a worker (through MachineBridge), its serial console, boot phases,
// stats, screen and controls. Components read its $state fields; the terminal attaches as a SerialPort.

import type { Manifest, ScriptStep } from '../../../images/manifest.ts';
import { MachineBridge } from '../../../worker/bridge.ts';
import { listStates, type SavedStateMeta } from '../../../worker/image-store.ts';
import type {
  ArtifactSource,
  BootOptions,
  Command,
  KeyPress,
  MachineError,
  MachineEvents,
  MachineStats,
  PhaseMark,
  ScreenMode,
} from '../../../worker/protocol.ts';
import { type Segment, phaseSegments, timeToReady } from '../lib/phases.ts';
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
}

/** Serial bytes kept for terminals that attach late (and for the boot log). */
const BACKLOG_BYTES = 2 << 20;
/** Decoded serial text kept for waiting on expected output. */
const TEXT_KEEP = 1 << 20;

const UNEXPECTED: MachineError['code'][] = ['internal', 'emulator-crashed', 'worker-crashed', 'bad-message'];

export class MachineSession implements SerialPort {
  status = $state<SessionStatus>('idle');
  phases = $state<PhaseMark[]>([]);
  stats = $state<MachineStats | null>(null);
  screenMode = $state<ScreenMode | null>(null);
  progress = $state<MachineEvents['progress'] | null>(null);
  error = $state<UserError | null>(null);
  /** Milliseconds since the machine started executing, ticking while it boots (for live timelines). */
  now = $state(0);
  /** Each new worker gets a new number: the screen canvas must be re-created for it. */
  generation = $state(0);
  savedStates = $state<SavedStateMeta[]>([]);
  lastSave = $state<MachineEvents['state-saved'] | null>(null);
  busy = $state<string | null>(null);
  request = $state.raw<BootRequest | null>(null);

  #bridge: MachineBridge | undefined;
  #nextId = 1;
  #pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void; type: Command['type'] }>();
  #listeners = new Set<(bytes: Uint8Array) => void>();
  #backlog: Uint8Array[] = [];
  #backlogBytes = 0;
  #decoder = new TextDecoder();
  #text = '';
  #textBase = 0;
  #waiters = new Set<() => void>();
  #startedAt = 0;
  #pausedAt = 0;
  #ticker: ReturnType<typeof setInterval> | undefined;
  #screen: OffscreenCanvas | null = null;
  #scripts = new Map<number, (r: MachineEvents['script-done']) => void>();
  #readyWaiters = new Set<(mark: PhaseMark | Error) => void>();

  constructor(readonly label: string) {}

  get segments(): Segment[] {
    const ready = this.phases.some((p) => p.phase === 'ready');
    const live = this.status === 'running' || this.status === 'paused';
    return phaseSegments(this.phases, { now: live && !ready ? this.now : undefined, withApp: Boolean(this.request?.app) });
  }

  get ready(): PhaseMark | undefined {
    return this.phases.find((p) => p.phase === 'ready');
  }

  get timeToReady(): { at: number; instructions: number } | undefined {
    return timeToReady(this.phases);
  }

  /** The serial console as text (recent part, terminal escapes and all). */
  get text(): string {
    return this.#text;
  }

  // ---- serial port (for the terminal) ----

  onSerial(listener: (bytes: Uint8Array) => void): () => void {
    for (const chunk of this.#backlog) listener(chunk);
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  sendSerial(bytes: Uint8Array): void {
    if (this.status !== 'running') return;
    this.#send({ type: 'serial-in', bytes });
  }

  /** Types a line on the serial console (with Enter). */
  typeLine(line: string): void {
    this.sendSerial(new TextEncoder().encode(`${line}\r`));
  }

  keys(keys: KeyPress[]): void {
    if (this.status === 'running') this.#send({ type: 'keyboard', keys });
  }

  /** Gives the VGA canvas to the worker; returns a function that takes it back. */
  attachScreen = (canvas: OffscreenCanvas): (() => void) => {
    this.#screen = canvas;
    this.#send({ type: 'screen', canvas });
    return () => {
      if (this.#screen === canvas) {
        this.#screen = null;
        this.#send({ type: 'screen', canvas: null });
      }
    };
  };

  // ---- life ----

  /** Boots an image (or restores a saved state) in a fresh worker. Resolves once the machine runs. */
  async boot(req: BootRequest): Promise<void> {
    this.#teardown();
    this.request = req;
    this.phases = [];
    this.stats = null;
    this.error = null;
    this.progress = null;
    this.now = 0;
    this.#clearConsole();
    this.status = 'loading';
    this.generation++;
    const bridge = new MachineBridge();
    this.#bridge = bridge;
    this.#wire(bridge);
    void this.refreshStates();
    const options: BootOptions = { manifest: $state.snapshot(req.manifest) as Manifest, source: req.source };
    if (req.app) options.app = req.app;
    if (req.memoryMB) options.memoryMB = req.memoryMB;
    if (req.restoreStateId) options.restoreStateId = req.restoreStateId;
    if (req.cmdlineAppend) options.cmdlineAppend = req.cmdlineAppend;
    await this.#request({ type: 'boot', id: this.#id(), options });
  }

  pause = () => this.#control('pause');
  resume = () => this.#control('resume');
  reset = async () => {
    this.phases = [];
    this.#startedAt = performance.now();
    this.#clearConsole();
    await this.#control('reset');
  };

  /** Stops the machine and ends its worker (frees its memory). */
  stop = async (): Promise<void> => {
    if (!this.#bridge) return;
    try {
      await this.#request({ type: 'stop', id: this.#id() });
    } catch {
      // Stopping a broken machine: terminating the worker below is what matters.
    }
    this.#teardown();
    this.status = 'stopped';
  };

  /** Saves the machine's state in this browser. */
  save = async (label?: string): Promise<void> => {
    this.busy = 'Saving state…';
    try {
      const id = this.#id();
      const saved = new Promise<MachineEvents['state-saved']>((resolve) => {
        const off = this.#bridge?.on('state-saved', (s) => {
          if (s.id !== id) return;
          off?.();
          resolve(s);
        });
      });
      await this.#request({ type: 'save-state', id, target: 'store', prepare: true, ...(label ? { label } : {}) });
      this.lastSave = await saved;
      await this.refreshStates();
    } finally {
      this.busy = null;
    }
  };

  /** Restores a saved state in a fresh worker: the machine resumes where it was saved. */
  restore = async (stateId: string): Promise<void> => {
    const req = this.request;
    if (!req) return;
    await this.boot({ ...req, restoreStateId: stateId, source: req.source });
  };

  async refreshStates(): Promise<void> {
    const name = this.request?.manifest.name;
    if (!name) return;
    this.savedStates = await listStates(name).catch(() => []);
  }

  /** Runs a script in the worker: each line typed once the previous line's expected text appeared. */
  async runScript(steps: ScriptStep[]): Promise<MachineEvents['script-done']> {
    const id = this.#id();
    const done = new Promise<MachineEvents['script-done']>((resolve) => this.#scripts.set(id, resolve));
    await this.#request({ type: 'run-script', id, steps });
    return done;
  }

  /**
   * Waits until `text` appears in the serial output after the absolute offset `from` (see `mark()`);
   * with `afterEcho`, only after the end of the line that was being typed at `from`.
   */
  waitFor(text: string, from: number, timeoutMs: number, options: { afterEcho?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    const { afterEcho = false, signal } = options;
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        let start = Math.max(0, from - this.#textBase);
        // A typed line comes back as its echo first: only what follows that line counts.
        if (afterEcho) {
          const nl = this.#text.indexOf('\n', start);
          if (nl < 0) return false;
          start = nl + 1;
        }
        if (this.#text.indexOf(text, start) >= 0) {
          finish();
          resolve();
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new ExpectedError(`"${text}" did not appear within ${Math.round(timeoutMs / 1000)} s.`, 'The guest may be slower than expected: try again, or check the script.'));
      }, timeoutMs);
      const abort = () => {
        finish();
        reject(signal?.reason);
      };
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        signal?.removeEventListener('abort', abort);
      };
      if (check()) return;
      this.#waiters.add(check);
      signal?.addEventListener('abort', abort);
    });
  }

  /** Resolves with the `ready` mark (the app's prompt); rejects if the machine fails first or on timeout. */
  whenReady(timeoutMs: number, signal?: AbortSignal): Promise<PhaseMark> {
    const now = this.ready;
    if (now) return Promise.resolve(now);
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

  /** The absolute offset of the end of the serial text so far (for `waitFor`). */
  mark(): number {
    return this.#textBase + this.#text.length;
  }

  dispose(): void {
    this.#teardown();
    this.#listeners.clear();
  }

  // ---- internals ----

  #id(): number {
    return this.#nextId++;
  }

  #send(cmd: Command): void {
    this.#bridge?.send(cmd);
  }

  #request(cmd: Command & { id: number }): Promise<void> {
    if (!this.#bridge) return Promise.reject(new ExpectedError('The machine is not running.', 'Boot it first.'));
    return new Promise((resolve, reject) => {
      this.#pending.set(cmd.id, { resolve, reject, type: cmd.type });
      this.#send(cmd);
    });
  }

  async #control(type: 'pause' | 'resume' | 'reset'): Promise<void> {
    try {
      await this.#request({ type, id: this.#id() });
    } catch (e) {
      // The error event already reported it.
      console.warn(`${type} failed`, e);
    }
  }

  #wire(bridge: MachineBridge): void {
    bridge.on('serial-out', (bytes) => this.#serial(bytes));
    bridge.on('phase', (mark) => {
      if (mark.phase === 'restored') {
        this.#startedAt = performance.now();
      }
      this.phases = [...this.phases, mark];
      if (mark.phase !== 'load') this.now = Math.max(this.now, mark.at);
      if (mark.phase === 'ready') for (const w of [...this.#readyWaiters]) w(mark);
    });
    bridge.on('stats', (s) => {
      this.stats = s;
    });
    bridge.on('progress', (p) => {
      this.progress = p.done >= p.total ? null : p;
    });
    bridge.on('screen-mode', (m) => {
      this.screenMode = m;
    });
    bridge.on('state', ({ status }) => {
      const was = this.status;
      if (status === 'running' && was === 'loading') this.#started();
      if (status === 'paused') this.#pausedAt = performance.now();
      if (status === 'running' && was === 'paused' && this.#pausedAt) this.#startedAt += performance.now() - this.#pausedAt;
      if (this.status !== 'failed' || status !== 'stopped') this.status = status === 'idle' ? 'idle' : status;
      if (status === 'stopped') this.#stopTicker();
    });
    bridge.on('script-done', (r) => {
      this.#scripts.get(r.id)?.(r);
      this.#scripts.delete(r.id);
    });
    bridge.on('done', ({ id }) => {
      this.#pending.get(id)?.resolve();
      this.#pending.delete(id);
    });
    bridge.on('error', (e) => this.#error(e));
  }

  #started(): void {
    this.#startedAt = performance.now();
    this.progress = null;
    this.#stopTicker();
    // A restored machine has no boot to time.
    if (this.request?.restoreStateId) return;
    this.#ticker = setInterval(() => {
      if (this.status === 'running' && !this.ready) this.now = Math.max(this.now, performance.now() - this.#startedAt);
      if (this.ready) this.#stopTicker();
    }, 100);
  }

  #stopTicker(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
  }

  #error(e: MachineError): void {
    const unexpected = UNEXPECTED.includes(e.code);
    if (e.detail) console.error(`[${this.label}] ${e.code}: ${e.message}\n${e.detail}`);
    else if (unexpected) console.error(`[${this.label}] ${e.code}: ${e.message}`);
    const user: UserError = { message: e.message, ...(e.hint ? { hint: e.hint } : {}), ...(unexpected ? { unexpected } : {}) };
    const pending = e.id !== undefined ? this.#pending.get(e.id) : undefined;
    if (pending) {
      this.#pending.delete(e.id!);
      pending.reject(Object.assign(new ExpectedError(e.message, e.hint), { code: e.code }));
      // A failed boot leaves no machine; a failed control leaves it as it was.
      if (pending.type === 'boot') this.status = 'failed';
    }
    if (e.code === 'worker-crashed' || e.code === 'emulator-crashed' || e.code === 'guest-panic' || e.code === 'guest-unresponsive') {
      if (e.code !== 'guest-unresponsive') this.status = 'failed';
    }
    this.error = user;
    if (this.status === 'failed') for (const w of [...this.#readyWaiters]) w(new ExpectedError(e.message, e.hint));
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
    this.#text += this.#decoder.decode(bytes, { stream: true });
    if (this.#text.length > TEXT_KEEP * 2) {
      const cut = this.#text.length - TEXT_KEEP;
      this.#text = this.#text.slice(cut);
      this.#textBase += cut;
    }
    for (const w of [...this.#waiters]) w();
  }

  #clearConsole(): void {
    this.#backlog = [];
    this.#backlogBytes = 0;
    this.#textBase += this.#text.length;
    this.#text = '';
    // Clear attached terminals too (ESC c: full reset).
    for (const l of this.#listeners) l(new TextEncoder().encode('\x1bc'));
  }

  #teardown(): void {
    this.#stopTicker();
    for (const [, p] of this.#pending) p.reject(new DOMException('machine replaced', 'AbortError'));
    this.#pending.clear();
    for (const w of [...this.#readyWaiters]) w(new DOMException('machine replaced', 'AbortError'));
    this.#scripts.clear();
    this.#bridge?.terminate();
    this.#bridge = undefined;
    this.#screen = null;
  }
}
