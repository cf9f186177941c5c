// The one handle on a machine worker (the page's, and the Node host's over node/node-worker.ts): owns
// the Worker's life (start, restart, terminate), sends typed commands, and delivers typed events.
// Imports no v86: safe for the UI bundle.
//
//   const bridge = new MachineBridge(); // or new MachineBridge(() => new Worker(...)) for another worker
//   bridge.on('serial-out', (bytes) => term.write(bytes));
//   await bridge.request({ type: 'boot', options: { manifest, source: { from: 'store' } } });

import { ANSWER_EVENTS, PROGRESS_EVENTS, PROTOCOL_VERSION, commandMessage, commandTransferables } from './protocol.ts';
import type { Command, CommandAnswer, CommandProgress, EventMessage, EventName, MachineError, MachineErrorCode, MachineEvents } from './protocol.ts';
import { HintedError } from '../images/hinted-error.ts';

/** The part of a Worker the bridge uses (a real Worker, a Node thread through node/node-worker.ts, or a stand-in in tests). */
export interface WorkerLike {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', fn: (e: MessageEvent) => void): void;
  addEventListener(type: 'messageerror', fn: (e: MessageEvent) => void): void;
  addEventListener(type: 'error', fn: (e: ErrorEvent | Event) => void): void;
  terminate(): void;
}

/** A command that carries an id, without it: `request` assigns one. */
export type RequestCommand = Extract<Command, { id: number }> extends infer C ? (C extends unknown ? Omit<C, 'id'> : never) : never;

type AnyAnswer = CommandAnswer<Command['type']>;

const answerEvents = new Set<EventName>(Object.values(ANSWER_EVENTS));
const progressEvents = new Set<EventName>(Object.values(PROGRESS_EVENTS));

/** A machine error thrown by `request` (keeps the event). */
export class MachineRequestError extends HintedError<MachineErrorCode> {
  constructor(readonly error: MachineError) {
    super(error.code, error.message, error.hint === undefined ? {} : { hint: error.hint });
    this.name = 'MachineRequestError';
  }
}

type Listener<K extends EventName> = (data: MachineEvents[K]) => void;

// Written out in full so that bundlers (Vite) see the worker entry and build it as a module worker.
const defaultWorker = (): WorkerLike => new Worker(new URL('./main.ts', import.meta.url), { type: 'module' });

interface Pending {
  resolve: (answer: AnyAnswer) => void;
  reject: (e: Error) => void;
  answer?: AnyAnswer;
  progress?: (data: never) => void;
}

export class MachineBridge {
  #worker: WorkerLike | null = null;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Map<EventName, Set<(data: never) => void>>();
  #hello!: Promise<void>;
  /** Rejects the current worker's `ready`: a crash before its hello. */
  #helloFailed: ((e: Error) => void) | undefined;

  /** `factory` makes the worker; by default this module's sibling main.ts as a module worker. */
  constructor(private readonly factory: () => WorkerLike = defaultWorker) {
    this.#start();
  }

  /** Resolves once the worker has started and speaks this protocol version; rejects if it crashes first or speaks another. */
  get ready(): Promise<void> {
    return this.#hello;
  }

  get alive(): boolean {
    return this.#worker !== null;
  }

  #start(): void {
    const worker = this.factory();
    this.#worker = worker;
    this.#hello = new Promise<void>((resolve, reject) => {
      this.#helloFailed = reject;
      const off = this.on('hello', (h) => {
        off();
        this.#helloFailed = undefined;
        if (h.version === PROTOCOL_VERSION) return resolve();
        reject(new MachineRequestError(this.#crashed(`the worker speaks protocol ${h.version}, the page ${PROTOCOL_VERSION}`)));
      });
    });
    // Nobody may be waiting for `ready`: a crash is reported as an `error` event too.
    this.#hello.catch(() => undefined);
    worker.addEventListener('message', (e) => {
      if (this.#worker === worker) this.#receive(e.data);
    });
    worker.addEventListener('messageerror', () => {
      if (this.#worker === worker) this.#emit('error', { code: 'bad-message', message: 'A message from the machine could not be read.', hint: 'Restart the machine.' });
    });
    worker.addEventListener('error', (e) => {
      if (this.#worker !== worker) return;
      (e as Event).preventDefault?.();
      this.#crashed((e as ErrorEvent).message || 'the worker failed to start or threw an uncaught error');
    });
  }

  #receive(msg: unknown): void {
    const m = msg as EventMessage;
    if (typeof m !== 'object' || m === null || m.v !== PROTOCOL_VERSION || typeof m.event !== 'string') {
      console.error('machine worker sent an unreadable message', msg);
      return;
    }
    if (m.event === 'done') this.#settle(m.data.id);
    else if (m.event === 'error' && m.data.id !== undefined) this.#settle(m.data.id, m.data);
    else if (answerEvents.has(m.event) || progressEvents.has(m.event)) {
      const p = this.#pending.get((m.data as { id: number }).id);
      if (p && answerEvents.has(m.event)) p.answer = m.data as AnyAnswer;
      else if (p?.progress) this.#call(m.event, p.progress, m.data);
    }
    this.#emit(m.event, m.data as never);
  }

  #settle(id: number, error?: MachineError): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (error) p.reject(new MachineRequestError(error));
    else p.resolve(p.answer as AnyAnswer);
  }

  #emit<K extends EventName>(event: K, data: MachineEvents[K]): void {
    for (const fn of this.#listeners.get(event) ?? []) this.#call(event, fn, data);
  }

  #call(event: EventName, fn: (data: never) => void, data: unknown): void {
    try {
      fn(data as never);
    } catch (e) {
      console.error(`machine event listener for ${event} failed`, e);
    }
  }

  /** The worker died: tell listeners, fail what was pending (and `ready`), and let go of it. */
  #crashed(why: string): MachineError {
    const error: MachineError = { code: 'worker-crashed', message: `The machine's worker stopped: ${why}.`, hint: 'Restart the machine. Stored images and saved states are not affected.' };
    this.#worker?.terminate();
    this.#worker = null;
    this.#helloFailed?.(new MachineRequestError(error));
    this.#helloFailed = undefined;
    for (const [id, p] of this.#pending) p.reject(new MachineRequestError({ ...error, id }));
    this.#pending.clear();
    this.#emit('error', error);
    this.#emit('state', { status: 'stopped' });
    return error;
  }

  /** Subscribes to one kind of event; returns the unsubscribe function. */
  on<K extends EventName>(event: K, fn: Listener<K>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn as (data: never) => void);
    return () => set.delete(fn as (data: never) => void);
  }

  /** Sends a command without waiting (serial input, keys, the screen canvas). */
  send(cmd: Command): void {
    if (!this.#worker) throw new MachineRequestError({ code: 'worker-crashed', message: 'The machine has no worker.', hint: 'Restart the machine.' });
    this.#worker.postMessage(commandMessage(cmd), commandTransferables(cmd));
  }

  /**
   * Sends a command with a fresh id and resolves when the worker is done with it, with its answer
   * (ANSWER_EVENTS: `state-saved`, `script-done`, `screen-text`; undefined for the others); rejects
   * with a MachineRequestError. `onProgress` gets the command's progress events (`script-step`).
   * Aborting terminates the worker (the only way to interrupt a machine mid-command).
   */
  request<C extends RequestCommand>(cmd: C, opts: { signal?: AbortSignal; onProgress?: (data: CommandProgress<C['type']>) => void } = {}): Promise<CommandAnswer<C['type']>> {
    const id = this.#nextId++;
    return new Promise<CommandAnswer<C['type']>>((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(opts.signal.reason);
        return;
      }
      this.#pending.set(id, { resolve: resolve as (a: AnyAnswer) => void, reject, ...(opts.onProgress ? { progress: opts.onProgress as (data: never) => void } : {}) });
      opts.signal?.addEventListener('abort', () => {
        if (!this.#pending.has(id)) return;
        this.#pending.delete(id);
        this.terminate();
        reject(opts.signal!.reason);
      });
      try {
        this.send({ ...cmd, id } as Command);
      } catch (e) {
        this.#pending.delete(id);
        reject(e);
      }
    });
  }

  /** Replaces the worker with a fresh one (after a crash, or to free everything); listeners stay. */
  restart(): void {
    this.terminate();
    this.#start();
  }

  /** Ends the worker at once: its machine and all its memory go with it. */
  terminate(): void {
    const worker = this.#worker;
    if (!worker) return;
    this.#worker = null;
    worker.terminate();
    for (const [id, p] of this.#pending) p.reject(new MachineRequestError({ code: 'not-running', message: 'The machine was terminated.', id }));
    this.#pending.clear();
    this.#emit('state', { status: 'stopped' });
  }
}
