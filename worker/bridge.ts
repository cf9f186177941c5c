// The page's handle on one machine worker: owns the Worker's life (start, restart, terminate),
// sends typed commands, and delivers typed events. Imports no v86: safe for the UI bundle.
//
//   const bridge = new MachineBridge(); // or new MachineBridge(() => new Worker(...)) for another worker
//   bridge.on('serial-out', (bytes) => term.write(bytes));
//   await bridge.request({ type: 'boot', options: { manifest, source: { from: 'store' } } });

import { PROTOCOL_VERSION, commandMessage, commandTransferables } from './protocol.ts';
import type { Command, EventMessage, EventName, MachineError, MachineEvents } from './protocol.ts';

/** The part of a Worker the bridge uses (a real Worker, or a stand-in in tests). */
export interface WorkerLike {
  postMessage(message: unknown, transfer: Transferable[]): void;
  addEventListener(type: 'message', fn: (e: MessageEvent) => void): void;
  addEventListener(type: 'messageerror', fn: (e: MessageEvent) => void): void;
  addEventListener(type: 'error', fn: (e: ErrorEvent | Event) => void): void;
  terminate(): void;
}

/** A command that carries an id, without it: `request` assigns one. */
export type RequestCommand = Extract<Command, { id: number }> extends infer C ? (C extends unknown ? Omit<C, 'id'> : never) : never;

/** The events that answer a request, besides `done`. */
type Answer = MachineEvents['state-saved'] | MachineEvents['script-done'] | MachineEvents['screen-text'];

/** A machine error thrown by `request` (keeps the event). */
export class MachineRequestError extends Error {
  constructor(readonly error: MachineError) {
    super(error.message);
    this.name = 'MachineRequestError';
  }
}

type Listener<K extends EventName> = (data: MachineEvents[K]) => void;

// Written out in full so that bundlers (Vite) see the worker entry and build it as a module worker.
const defaultWorker = (): WorkerLike => new Worker(new URL('./main.ts', import.meta.url), { type: 'module' });

interface Pending {
  resolve: (answer: Answer | undefined) => void;
  reject: (e: Error) => void;
  answer?: Answer;
}

export class MachineBridge {
  #worker: WorkerLike | null = null;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Map<EventName, Set<(data: never) => void>>();
  #hello!: Promise<void>;

  /** `factory` makes the worker; by default this module's sibling main.ts as a module worker. */
  constructor(private readonly factory: () => WorkerLike = defaultWorker) {
    this.#start();
  }

  /** Resolves once the worker has started and speaks this protocol version. */
  get ready(): Promise<void> {
    return this.#hello;
  }

  get alive(): boolean {
    return this.#worker !== null;
  }

  #start(): void {
    const worker = this.factory();
    this.#worker = worker;
    this.#hello = new Promise<void>((resolve) => {
      const off = this.on('hello', (h) => {
        off();
        if (h.version !== PROTOCOL_VERSION) this.#crashed(`the worker speaks protocol ${h.version}, the page ${PROTOCOL_VERSION}`);
        resolve();
      });
    });
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
    else if ((m.event === 'state-saved' || m.event === 'script-done' || m.event === 'screen-text') && this.#pending.has(m.data.id)) this.#pending.get(m.data.id)!.answer = m.data;
    this.#emit(m.event, m.data as never);
  }

  #settle(id: number, error?: MachineError): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (error) p.reject(new MachineRequestError(error));
    else p.resolve(p.answer);
  }

  #emit<K extends EventName>(event: K, data: MachineEvents[K]): void {
    for (const fn of this.#listeners.get(event) ?? []) {
      try {
        (fn as Listener<K>)(data);
      } catch (e) {
        console.error(`machine event listener for ${event} failed`, e);
      }
    }
  }

  /** The worker died: tell listeners, fail what was pending, and let go of it. */
  #crashed(why: string): void {
    const error: MachineError = { code: 'worker-crashed', message: `The machine's worker stopped: ${why}.`, hint: 'Restart the machine. Stored images and saved states are not affected.' };
    this.#worker?.terminate();
    this.#worker = null;
    for (const [id, p] of this.#pending) p.reject(new MachineRequestError({ ...error, id }));
    this.#pending.clear();
    this.#emit('error', error);
    this.#emit('state', { status: 'stopped' });
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
   * Sends a command with a fresh id and resolves when the worker is done with it (with the answering
   * `state-saved`, `script-done` or `screen-text` event, if any); rejects with a MachineRequestError.
   * Aborting terminates the worker (the only way to interrupt a machine mid-command).
   */
  request(cmd: RequestCommand, opts: { signal?: AbortSignal } = {}): Promise<Answer | undefined> {
    const id = this.#nextId++;
    return new Promise<Answer | undefined>((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(opts.signal.reason);
        return;
      }
      this.#pending.set(id, { resolve, reject });
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
