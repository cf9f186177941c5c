// Headless machines in Node: each NodeMachine runs worker/endpoint.ts + machine.ts in its own worker
// thread, like the browser runs them in a Web Worker, and talks to it through the page's own
// MachineBridge (over node-worker.ts), so tests, `npm run compare` and the benchmarks measure the
// browser's code path. Threads (not in-process) so several machines boot in parallel, a crashing
// emulator cannot take the caller down, and terminating a thread frees all its memory.

import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { validateManifest } from '../../images/manifest.ts';
import type { Manifest, ScriptStep } from '../../images/manifest.ts';
import { MachineBridge, MachineRequestError } from '../bridge.ts';
import type { RequestCommand } from '../bridge.ts';
import { MachineFailure, WaitTimedOut } from '../errors.ts';
import type { BootOptions, Command, CommandAnswer, CommandProgress, EventName, MachineError, MachineEvents, MachineStats, MachineStatus, PhaseMark } from '../protocol.ts';
import { SerialText } from '../serial-text.ts';
import type { NetworkCounters } from '../network.ts';
import { nodeWorker } from './node-worker.ts';
import type { NodeWorker } from './node-worker.ts';

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

type Listener<K extends EventName> = (data: MachineEvents[K]) => void;

/** Guest errors after which `ready()` gives up instead of waiting for a prompt. */
const NOT_READY: MachineError['code'][] = ['guest-panic', 'guest-boot-failed', 'guest-service-failed'];

export class NodeMachine {
  readonly #bridge: MachineBridge;
  #thread: NodeWorker | undefined;
  readonly #text = new SerialText(KEEP_TEXT);
  /** Where `waitFor` searches from: the end of the output when `type` was last called. */
  #mark = 0;
  #phases: PhaseMark[] = [];
  #errors: MachineError[] = [];
  #stats: MachineStats | undefined;
  #status: MachineStatus = 'idle';
  #lastState: SavedState | undefined;
  #network: NetworkCounters | undefined;

  /** Starts the machine's thread (no machine runs in it until `boot` or `restore`). */
  constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    readonly options: NodeBootOptions = {},
  ) {
    this.#bridge = new MachineBridge(() => (this.#thread = nodeWorker(new Worker(THREAD_ENTRY))));
    this.on('serial-out', (bytes) => {
      this.options.echo?.write(bytes);
      this.#text.push(bytes);
    });
    this.on('phase', (p) => this.#phases.push(p));
    this.on('error', (e) => this.#errors.push(e));
    this.on('stats', (st) => (this.#stats = st));
    this.on('network', (n) => (this.#network = n));
    this.on('state', ({ status }) => {
      this.#status = status;
      if (status === 'stopped') this.#text.close(new MachineFailure('not-running', 'The machine stopped while its output was awaited.', 'Boot it again.'));
    });
  }

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

  /** The network card's address and packet counts, for a machine booted on a network (updated once a second). */
  get network(): NetworkCounters | undefined {
    return this.#network;
  }

  get status(): MachineStatus {
    return this.#status;
  }

  /** Serial output decoded as UTF-8 (the last few MiB). */
  get output(): string {
    return this.#text.text;
  }

  get lastState(): SavedState | undefined {
    return this.#lastState;
  }

  /** Resolves with the exit code once the machine's thread has ended (after stop). */
  get exited(): Promise<number> {
    return this.#thread?.exited ?? Promise.resolve(0);
  }

  on<K extends EventName>(event: K, fn: Listener<K>): () => void {
    return this.#bridge.on(event, fn);
  }

  /** Waits until the machine's thread is ready for commands (starting a new one after a crash or stop). */
  connect(): Promise<void> {
    if (!this.#bridge.alive) this.#bridge.restart();
    return this.#bridge.ready;
  }

  /** Sends a command as is (ids are the caller's business). */
  send(cmd: Command): void {
    this.#bridge.send(cmd);
  }

  /** Sends a raw value (for testing how the machine answers malformed messages). */
  sendRaw(value: unknown): void {
    this.#thread?.postMessage(value, []);
  }

  /** Sends a command with a fresh id; resolves with its answer, rejects with a MachineRequestError (bridge.ts). */
  async request<C extends RequestCommand>(cmd: C, opts: { signal?: AbortSignal; onProgress?: (data: CommandProgress<C['type']>) => void } = {}): Promise<CommandAnswer<C['type']>> {
    await this.connect();
    return this.#bridge.request(cmd, opts);
  }

  /** Boots (or, with `restoreState`, restores) the image; resolves once the machine runs. */
  async boot(extra: Partial<BootOptions> = {}): Promise<void> {
    this.#phases = [];
    const { echo: _echo, ...rest } = this.options;
    const options: BootOptions = { ...rest, ...extra, manifest: this.manifest, source: { from: 'path', dir: this.dir } };
    await this.request({ type: 'boot', options });
  }

  /**
   * Resolves with the `ready` phase mark (the prompt), or rejects on a timeout, the machine stopping, or
   * a guest error that means the appliance will not be ready as built (a panic, a failed boot, a
   * service that exited before its port listened: its console may still show a prompt).
   */
  ready(timeoutMs = 120_000): Promise<PhaseMark> {
    const have = this.#phases.find((p) => p.phase === 'ready');
    if (have) return Promise.resolve(have);
    return new Promise<PhaseMark>((resolveReady, rejectReady) => {
      const timer = setTimeout(() => finish(() => rejectReady(new WaitTimedOut(`Timed out after ${timeoutMs} ms waiting for the ready marker.`))), timeoutMs);
      const offs = [
        this.on('phase', (p) => p.phase === 'ready' && finish(() => resolveReady(p))),
        this.on('state', (s) => s.status === 'stopped' && finish(() => rejectReady(new MachineRequestError(this.#errors.at(-1) ?? { code: 'not-running', message: 'The machine stopped before the ready marker.' })))),
        this.on('error', (e) => NOT_READY.includes(e.code) && finish(() => rejectReady(new MachineRequestError(e)))),
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
    this.#mark = this.#text.end;
    this.send({ type: 'serial-in', bytes: new TextEncoder().encode(`${line}\r`) });
  }

  /**
   * Waits until `text` appears in the serial output after the last `type()` (or since boot); resolves
   * with the output from that point up to and including the match.
   */
  async waitFor(text: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const from = this.#mark;
    try {
      return this.#text.between(from, await this.#text.waitFor(text, { from, timeoutMs }));
    } catch (e) {
      if (!(e instanceof WaitTimedOut)) throw e;
      throw new WaitTimedOut(`${e.message} Last output: ${JSON.stringify(this.#text.text.slice(-200))}`, e.hint);
    }
  }

  /** Runs a script through the machine's runner (see protocol `run-script`); `onStep` sees each step's progress. */
  runScript(steps: ScriptStep[], onStep?: (s: MachineEvents['script-step']) => void): Promise<MachineEvents['script-done']> {
    return this.request({ type: 'run-script', steps }, onStep ? { onProgress: onStep } : {});
  }

  /** Puts a file into the host share (the guest's /mnt/host); `onProgress` sees the bytes read so far. */
  async putFile(path: string, data: Uint8Array | Blob, opts: { mtime?: number; onProgress?: (p: MachineEvents['share-progress']) => void } = {}): Promise<void> {
    const blob = data instanceof Blob ? data : new Blob([data as Uint8Array<ArrayBuffer>]);
    await this.request({ type: 'share-put', path, data: blob, ...(opts.mtime !== undefined ? { mtime: opts.mtime } : {}) }, opts.onProgress ? { onProgress: opts.onProgress } : {});
  }

  /** The host share's files, folders and links. */
  listShare(): Promise<MachineEvents['share-list']> {
    return this.request({ type: 'share-list' });
  }

  /** A file of the host share, as the guest left it. */
  async readFile(path: string): Promise<Uint8Array> {
    return (await this.request({ type: 'share-read', path })).bytes;
  }

  /** The whole host share as a tar. */
  async shareArchive(): Promise<Uint8Array> {
    return (await this.request({ type: 'share-archive' })).bytes;
  }

  /** An HTTP request from the host to the guest's `port` (default 80) over its network card (worker/network-link.ts). */
  httpGet(path: string, opts: { port?: number; method?: 'GET' | 'HEAD'; headers?: Record<string, string> } = {}): Promise<MachineEvents['http-response']> {
    return this.request({ type: 'http-get', path, ...opts });
  }

  async screenText(): Promise<string[]> {
    return (await this.request({ type: 'screen-text' })).lines;
  }

  async pause(): Promise<void> {
    await this.request({ type: 'pause' });
  }

  async resume(): Promise<void> {
    await this.request({ type: 'resume' });
  }

  async reset(): Promise<void> {
    this.#phases = [];
    await this.request({ type: 'reset' });
  }

  /** Saves the machine's state and returns its (compressed) bytes; kept for `restore()`. */
  async saveState(opts: { label?: string; prepare?: boolean } = {}): Promise<SavedState> {
    const saved = await this.request({ type: 'save-state', target: 'transfer', ...opts });
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
    // No stop first: a machine that runs this image takes the state into its own emulator (endpoint.ts).
    this.#mark = this.#text.end;
    // The bytes are transferred to the thread: send a copy so the caller's state stays usable.
    await this.boot({ restoreState: bytes.slice() });
  }

  /** Stops the machine and ends its thread (all its memory is freed). */
  async stop(): Promise<void> {
    const thread = this.#thread;
    if (!this.#bridge.alive || !thread) return;
    try {
      if (this.#status !== 'stopped' && this.#status !== 'idle') await Promise.race([this.#bridge.request({ type: 'stop' }), new Promise((r) => setTimeout(r, 5000))]);
    } catch {
      // A machine that fails to stop is ended with its thread below.
    }
    this.#bridge.terminate();
    await thread.exited;
  }
}
