// Headless machines in Node: each NodeMachine runs worker/endpoint.ts + machine.ts in its own worker
// thread, like the browser runs them in a Web Worker, so tests, `npm run compare` and the benchmarks
// measure the browser's code path. Threads (not in-process) so several machines boot in parallel,
// a crashing emulator cannot take the caller down, and terminating a thread frees all its memory.

import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { TransferListItem } from 'node:worker_threads';
import { validateManifest } from '../../images/manifest.ts';
import type { Manifest, ScriptStep } from '../../images/manifest.ts';
import { MachineFailure } from '../errors.ts';
import { PROTOCOL_VERSION, commandMessage, commandTransferables } from '../protocol.ts';
import type { BootOptions, Command, EventMessage, EventName, MachineError, MachineEvents, MachineStats, MachineStatus, PhaseMark } from '../protocol.ts';

export type NodeBootOptions = Omit<BootOptions, 'manifest' | 'source'> & {
  /** Copy the guest's serial output here as it arrives (e.g. process.stdout). */
  echo?: { write(chunk: Uint8Array): unknown };
};

export interface SavedState {
  /** zstd-compressed v86 state. */
  bytes: Uint8Array;
  size: number;
  rawSize: number;
  /** Milliseconds to save and compress. */
  ms: number;
}

/** A machine error as a thrown value (keeps the event's code, hint and command id). */
export class MachineErrorException extends MachineFailure {
  constructor(readonly event: MachineError) {
    super(event.code, event.message, event.hint, event.detail ? { cause: event.detail } : undefined);
  }
}

type Listener<K extends EventName> = (data: MachineEvents[K]) => void;

/** A command that carries an id, without it (call() assigns one). */
export type CallCommand = Extract<Command, { id: number }> extends infer C ? (C extends unknown ? Omit<C, 'id'> : never) : never;

/** Output text kept for `waitFor`; older text is dropped. */
const KEEP_TEXT = 4 << 20;
const THREAD_ENTRY = new URL('./thread-boot.mjs', import.meta.url);

export async function loadManifest(dir: string): Promise<Manifest> {
  const path = join(dir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new MachineFailure('missing-artifact', `No image at ${dir} (cannot read manifest.json).`, 'Build it first: npm run images.', { cause: e });
  }
  try {
    return validateManifest(JSON.parse(text));
  } catch (e) {
    throw new MachineFailure('bad-image', `${path}: ${(e as Error).message}`, 'Rebuild the image.', { cause: e });
  }
}

/** Boots the image built in `dir` (its manifest.json and files); resolves once the machine runs. */
export async function bootImage(dir: string, opts: NodeBootOptions = {}): Promise<NodeMachine> {
  const machine = new NodeMachine(resolve(dir), await loadManifest(dir), opts);
  try {
    await machine.boot();
  } catch (e) {
    await machine.stop();
    throw e;
  }
  return machine;
}

/** Restores a saved state of the image in `dir`; resolves once the machine runs at its prompt again. */
export async function restoreImage(dir: string, state: SavedState | Uint8Array, opts: NodeBootOptions = {}): Promise<NodeMachine> {
  const machine = new NodeMachine(resolve(dir), await loadManifest(dir), opts);
  try {
    await machine.restore(state);
  } catch (e) {
    await machine.stop();
    throw e;
  }
  return machine;
}

export class NodeMachine {
  #thread: Worker | undefined;
  #hello: Promise<void> | undefined;
  #exited: Promise<number> | undefined;
  #nextId = 1;
  readonly #listeners = new Map<EventName, Set<(data: never) => void>>();
  #decoder = new TextDecoder();
  #text = '';
  #textBase = 0;
  #mark = 0;
  #phases: PhaseMark[] = [];
  #errors: MachineError[] = [];
  #stats: MachineStats | undefined;
  #status: MachineStatus = 'idle';
  #lastState: SavedState | undefined;

  constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    readonly options: NodeBootOptions = {},
  ) {}

  /** Phase marks of the current boot, in order. */
  get phases(): readonly PhaseMark[] {
    return this.#phases;
  }

  /** Error events received so far. */
  get errors(): readonly MachineError[] {
    return this.#errors;
  }

  get stats(): MachineStats | undefined {
    return this.#stats;
  }

  get status(): MachineStatus {
    return this.#status;
  }

  /** Serial output decoded as UTF-8 (the last few MiB). */
  get output(): string {
    return this.#text;
  }

  get lastState(): SavedState | undefined {
    return this.#lastState;
  }

  /** Resolves with the exit code once the machine's thread has ended (after stop). */
  get exited(): Promise<number> {
    return this.#exited ?? Promise.resolve(0);
  }

  on<K extends EventName>(event: K, fn: Listener<K>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn as (data: never) => void);
    return () => set.delete(fn as (data: never) => void);
  }

  #dispatch(msg: EventMessage): void {
    switch (msg.event) {
      case 'serial-out':
        this.options.echo?.write(msg.data);
        this.#appendText(this.#decoder.decode(msg.data, { stream: true }));
        break;
      case 'phase':
        this.#phases.push(msg.data);
        break;
      case 'error':
        this.#errors.push(msg.data);
        break;
      case 'stats':
        this.#stats = msg.data;
        break;
      case 'state':
        this.#status = msg.data.status;
        break;
    }
    for (const fn of this.#listeners.get(msg.event) ?? []) (fn as (d: unknown) => void)(msg.data);
  }

  #appendText(s: string): void {
    this.#text += s;
    if (this.#text.length > KEEP_TEXT * 2) {
      const drop = this.#text.length - KEEP_TEXT;
      this.#text = this.#text.slice(drop);
      this.#textBase += drop;
    }
  }

  /** Starts the machine's thread (if needed) and waits until it is ready for commands. */
  connect(): Promise<void> {
    return this.#startThread();
  }

  #startThread(): Promise<void> {
    if (this.#thread) return this.#hello!;
    const thread = new Worker(THREAD_ENTRY);
    this.#thread = thread;
    this.#hello = new Promise<void>((resolveHello, rejectHello) => {
      thread.on('message', (msg: EventMessage) => {
        if (msg?.v !== PROTOCOL_VERSION) return;
        if (msg.event === 'hello') resolveHello();
        this.#dispatch(msg);
      });
      thread.on('error', (e) => {
        const err: MachineError = { code: 'worker-crashed', message: `The machine's thread crashed: ${e.message}`, hint: 'Boot the machine again.', detail: e.stack };
        rejectHello(new MachineErrorException(err));
        this.#dispatch({ v: PROTOCOL_VERSION, event: 'error', data: err });
      });
    });
    this.#exited = new Promise((done) => thread.once('exit', (code) => {
      if (this.#thread === thread) this.#thread = undefined;
      if (this.#status !== 'stopped') this.#dispatch({ v: PROTOCOL_VERSION, event: 'state', data: { status: 'stopped' } });
      done(code);
    }));
    return this.#hello;
  }

  /** Sends a command as is (ids are the caller's business). */
  send(cmd: Command): void {
    if (!this.#thread) throw new MachineFailure('not-running', 'The machine has no thread.', 'Boot it first.');
    this.#thread.postMessage(commandMessage(cmd), commandTransferables(cmd) as unknown as TransferListItem[]);
  }

  /** Sends a raw value (for testing how the machine answers malformed messages). */
  sendRaw(value: unknown): void {
    this.#thread?.postMessage(value);
  }

  /** Sends a command with a fresh id; resolves on its `done`, rejects on an error answering it. */
  async call(cmd: CallCommand, collect?: (msg: EventMessage) => void): Promise<void> {
    await this.#startThread();
    const id = this.#nextId++;
    return new Promise<void>((resolveCall, rejectCall) => {
      const offs = [
        this.on('done', (d) => {
          if (d.id !== id) return;
          offs.forEach((off) => off());
          resolveCall();
        }),
        this.on('error', (e) => {
          if (e.id !== id) return;
          offs.forEach((off) => off());
          rejectCall(new MachineErrorException(e));
        }),
        this.on('state', (s) => {
          // A machine that stops (crash, stop) answers nothing more.
          if (s.status !== 'stopped' || cmd.type === 'stop') return;
          setTimeout(() => {
            offs.forEach((off) => off());
            rejectCall(new MachineErrorException(this.#errors.at(-1) ?? { code: 'not-running', message: 'The machine stopped.' }));
          }, 0);
        }),
      ];
      if (collect) {
        const ev = ['state-saved', 'script-done', 'screen-text'] as const;
        for (const name of ev) offs.push(this.on(name, (d) => d.id === id && collect({ v: PROTOCOL_VERSION, event: name, data: d } as EventMessage)));
      }
      this.send({ ...cmd, id } as Command);
    });
  }

  /** Boots (or, with `restoreState`, restores) the image; resolves once the machine runs. */
  async boot(extra: Partial<BootOptions> = {}): Promise<void> {
    this.#phases = [];
    const { echo: _echo, ...rest } = this.options;
    const options: BootOptions = { ...rest, ...extra, manifest: this.manifest, source: { from: 'path', dir: this.dir } };
    await this.call({ type: 'boot', options });
  }

  /** Resolves with the `ready` phase mark (the prompt), or rejects on an error or timeout. */
  ready(timeoutMs = 120_000): Promise<PhaseMark> {
    const have = this.#phases.find((p) => p.phase === 'ready');
    if (have) return Promise.resolve(have);
    return this.#until<PhaseMark>('phase', (p) => (p.phase === 'ready' ? p : undefined), timeoutMs, 'the ready marker');
  }

  #until<T>(event: 'phase', pick: (d: PhaseMark) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolveUntil, rejectUntil) => {
      const timer = setTimeout(() => finish(() => rejectUntil(new MachineFailure('guest-unresponsive', `Timed out after ${timeoutMs} ms waiting for ${what}.`))), timeoutMs);
      const offs = [
        this.on(event, (d) => {
          const v = pick(d);
          if (v !== undefined) finish(() => resolveUntil(v));
        }),
        this.on('state', (s) => s.status === 'stopped' && finish(() => rejectUntil(new MachineErrorException(this.#errors.at(-1) ?? { code: 'not-running', message: `The machine stopped before ${what}.` })))),
      ];
      const finish = (f: () => void) => {
        clearTimeout(timer);
        offs.forEach((off) => off());
        f();
      };
    });
  }

  /** Types a line on the serial console (Enter, a carriage return, is added: raw-mode line editors such as linenoise want CR; the tty maps it to LF for the rest); `waitFor` then searches what follows. */
  type(line: string): void {
    this.#mark = this.#textBase + this.#text.length;
    this.send({ type: 'serial-in', bytes: new TextEncoder().encode(`${line}\r`) });
  }

  /**
   * Waits until `text` appears in the serial output after the last `type()` (or since boot); resolves
   * with the output from that point up to and including the match.
   */
  waitFor(text: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const from = this.#mark;
    const find = (): string | undefined => {
      const hay = this.#text.slice(Math.max(0, from - this.#textBase));
      if (typeof text === 'string') {
        const i = hay.indexOf(text);
        return i < 0 ? undefined : hay.slice(0, i + text.length);
      }
      const m = text.exec(hay);
      return m ? hay.slice(0, m.index + m[0].length) : undefined;
    };
    const now = find();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<string>((resolveWait, rejectWait) => {
      const timer = setTimeout(() => finish(() => rejectWait(new MachineFailure('guest-unresponsive', `Timed out after ${timeoutMs} ms waiting for ${String(text)}; last output: ${JSON.stringify(this.#text.slice(-200))}`))), timeoutMs);
      const offs = [
        this.on('serial-out', () => {
          const found = find();
          if (found !== undefined) finish(() => resolveWait(found));
        }),
        this.on('state', (s) => s.status === 'stopped' && finish(() => rejectWait(new MachineFailure('not-running', `The machine stopped while waiting for ${String(text)}.`)))),
      ];
      const finish = (f: () => void) => {
        clearTimeout(timer);
        offs.forEach((off) => off());
        f();
      };
    });
  }

  /** Runs a script through the machine (see protocol `run-script`). */
  async runScript(steps: ScriptStep[]): Promise<MachineEvents['script-done']> {
    let result: MachineEvents['script-done'] | undefined;
    await this.call({ type: 'run-script', steps }, (m) => {
      if (m.event === 'script-done') result = m.data;
    });
    return result!;
  }

  async screenText(): Promise<string[]> {
    let lines: string[] = [];
    await this.call({ type: 'screen-text' }, (m) => {
      if (m.event === 'screen-text') lines = m.data.lines;
    });
    return lines;
  }

  async pause(): Promise<void> {
    await this.call({ type: 'pause' });
  }

  async resume(): Promise<void> {
    await this.call({ type: 'resume' });
  }

  async reset(): Promise<void> {
    this.#phases = [];
    await this.call({ type: 'reset' });
  }

  /** Saves the machine's state and returns its (compressed) bytes; kept for `restore()`. */
  async saveState(opts: { label?: string; prepare?: boolean } = {}): Promise<SavedState> {
    let saved: MachineEvents['state-saved'] | undefined;
    await this.call({ type: 'save-state', target: 'transfer', ...opts }, (m) => {
      if (m.event === 'state-saved') saved = m.data;
    });
    if (!saved?.bytes) throw new MachineFailure('internal', 'The machine saved no state bytes.');
    this.#lastState = { bytes: saved.bytes, size: saved.size, rawSize: saved.rawSize, ms: saved.ms };
    return this.#lastState;
  }

  /**
   * Restores a saved state (default: the last one saved): the machine resumes at its prompt without
   * booting. Stops the current machine first; reuses the thread when it is still alive.
   */
  async restore(state: SavedState | Uint8Array | undefined = this.#lastState): Promise<void> {
    if (!state) throw new MachineFailure('not-running', 'No saved state to restore.', 'Call saveState() first.');
    const bytes = state instanceof Uint8Array ? state : state.bytes;
    if (this.#thread && this.#status !== 'stopped' && this.#status !== 'idle') await this.call({ type: 'stop' });
    this.#mark = this.#textBase + this.#text.length;
    // The bytes are transferred to the thread: send a copy so the caller's state stays usable.
    await this.boot({ restoreState: bytes.slice() });
  }

  /** Stops the machine and ends its thread (all its memory is freed). */
  async stop(): Promise<void> {
    const thread = this.#thread;
    if (!thread) return;
    try {
      if (this.#status !== 'stopped') await Promise.race([this.call({ type: 'stop' }), new Promise((r) => setTimeout(r, 5000))]);
    } catch {
      // A machine that fails to stop is ended with its thread below.
    }
    await thread.terminate();
    await this.#exited;
  }
}
