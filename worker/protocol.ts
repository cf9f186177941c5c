// The one typed message protocol between the page (or a Node host) and a machine worker.
// Commands go in, events come out; commands are validated on receipt. Only types and pure functions here.

import { ManifestError, validateManifest } from '../images/manifest.ts';
import type { Manifest, ScriptStep } from '../images/manifest.ts';

export const PROTOCOL_VERSION = 1;

/** Where a machine reads an image's artifacts from. */
export type ArtifactSource =
  | { from: 'store' } // IndexedDB image store, keyed by artifact (or chunk) sha256 (browser)
  | { from: 'url'; baseUrl: string } // fetched relative to the manifest's URL, verified by sha256
  | { from: 'file'; files: Record<string, Blob> } // a user's own files (import), keyed by artifact sha256
  | { from: 'path'; dir: string }; // a directory on disk holding manifest.json's files (Node only)

export interface BootOptions {
  manifest: Manifest;
  source: ArtifactSource;
  /** Override the manifest's guest memory (MiB). */
  memoryMB?: number;
  /** Resume from a saved state in the worker's state store (its id) instead of booting. */
  restoreStateId?: string;
  /** Resume from these saved-state bytes (as `save-state` with `target: 'transfer'` returned them). */
  restoreState?: Uint8Array;
  /** Send serial output events (default true). */
  serial?: boolean;
  /** Appended to the manifest's kernel command line (experiments, e.g. `init_on_free=1`). */
  cmdlineAppend?: string;
  /**
   * For images that start an app by hand (a distro's `apps`): after the ready marker the machine types
   * the app's command and the `ready` phase ends at the app's ready marker.
   */
  app?: string;
  /** Add a virtio console device (its output arrives as `virtio-out`). */
  virtioConsole?: boolean;
  /** Report `guest-unresponsive` when a boot prints nothing for this long before it is ready (default 120 s). */
  stallTimeoutMs?: number;
}

/** A physical key as the page saw it (`KeyboardEvent.code`), pressed or released. */
export interface KeyPress {
  code: string;
  down: boolean;
}

/**
 * Commands. Those with an `id` are answered by `done { id }` or by an `error` carrying that id;
 * `save-state`, `run-script` and `screen-text` also send their result event (same id) before `done`.
 */
export type Command =
  /** Load the image's artifacts and start the machine (stops a running one first); `done` once it runs. */
  | { type: 'boot'; id: number; options: BootOptions }
  /** Bytes typed on the serial console (or the virtio console). */
  | { type: 'serial-in'; bytes: Uint8Array; port?: 'serial' | 'virtio' }
  /** PS/2 keyboard input for the VGA console: text (US layout), raw set-1 scancodes, or physical keys. */
  | { type: 'keyboard'; text?: string; scancodes?: number[]; keys?: KeyPress[] }
  /** The canvas to draw the VGA screen on (transferred; bound to this worker for good), or null. */
  | { type: 'screen'; canvas: OffscreenCanvas | null }
  /** The VGA text screen as lines (answered by `screen-text`). */
  | { type: 'screen-text'; id: number }
  | { type: 'pause'; id: number }
  | { type: 'resume'; id: number }
  | { type: 'reset'; id: number }
  | { type: 'stop'; id: number }
  | {
      type: 'save-state';
      id: number;
      label?: string;
      /** `store`: keep it in the worker's state store (browser default); `transfer`: send the bytes back. */
      target?: 'store' | 'transfer';
      /** Type the image's `beforeSaveState` line first (only when the guest sits at its ready prompt). */
      prepare?: boolean;
    }
  /**
   * Types each step's `send` line on the serial console and waits (up to `timeout` s, default 10) for
   * `expect` in the output that follows, not counting the guest's echo of the line itself. Answered by
   * `script-done` with the transcript; a step that times out ends the script with `ok: false`.
   */
  | { type: 'run-script'; id: number; steps: ScriptStep[] };

export type CommandType = Command['type'];

/** A command as it crosses the boundary. */
export type CommandMessage = Command & { v: typeof PROTOCOL_VERSION };

/**
 * Boot phases. A mark names the phase that just *ended*: `firmware` at the kernel's first console line,
 * `kernel` at "Run /init", `userspace` at the image's ready marker, `ready` when the app waits for input
 * (the same moment as `userspace` unless `BootOptions.app` starts an app by hand). `load` is the time
 * spent fetching and verifying artifacts before the machine started; `restored` the time v86 took to
 * load a saved state.
 */
export type BootPhaseName = 'load' | 'firmware' | 'kernel' | 'userspace' | 'ready' | 'restored';

export interface PhaseMark {
  phase: BootPhaseName;
  /** Milliseconds since the machine started executing (`load`: duration of loading). */
  at: number;
  /** Guest instructions retired since the machine started. */
  instructions: number;
  /**
   * How the moment was found: a console line (the kernel's banner, "Run /init", the ready marker), or
   * the CPU (paging switched on, first user-mode code) for kernels booted `quiet`.
   */
  detectedBy?: 'console' | 'cpu';
}

export interface MachineStats {
  uptimeMs: number;
  instructionsPerSecond: number;
  instructions: number;
  /** Guest RAM in bytes. */
  memoryBytes: number;
  diskReadBytes: number;
  fsReadBytes: number;
  serialBytes: number;
  running: boolean;
}

export type MachineStatus = 'idle' | 'loading' | 'running' | 'paused' | 'stopped';

export type MachineErrorCode =
  | 'bad-message'
  | 'missing-artifact'
  | 'hash-mismatch'
  | 'bad-image'
  | 'emulator-crashed'
  | 'guest-unresponsive'
  | 'guest-panic'
  | 'storage'
  | 'not-running'
  | 'worker-crashed'
  | 'internal';

export interface MachineError {
  code: MachineErrorCode;
  message: string;
  /** What the user can do about it. */
  hint?: string;
  /** The command id this error answers, if any. */
  id?: number;
  /** Technical detail (stack, cause) for the console, not for the user. */
  detail?: string;
}

export interface ScreenMode {
  graphical: boolean;
  /** Text mode: columns and rows; graphics mode: pixels. */
  width: number;
  height: number;
}

/** Events a machine emits, by name. */
export interface MachineEvents {
  hello: { version: number };
  'serial-out': Uint8Array;
  'virtio-out': Uint8Array;
  phase: PhaseMark;
  stats: MachineStats;
  state: { status: MachineStatus };
  'state-saved': {
    id: number;
    stateId: string;
    /** Compressed (zstd) bytes, as stored. */
    size: number;
    /** Bytes v86 produced before compression. */
    rawSize: number;
    /** Milliseconds to save and compress. */
    ms: number;
    /** The compressed state, when saved with `target: 'transfer'`. */
    bytes?: Uint8Array;
  };
  'script-done': { id: number; ok: boolean; transcript: string; failedStep?: number; message?: string };
  'screen-mode': ScreenMode;
  'screen-text': { id: number; lines: string[] };
  progress: { what: string; done: number; total: number };
  done: { id: number };
  error: MachineError;
}

export type EventName = keyof MachineEvents;

export type EventMessage = {
  [K in EventName]: { v: typeof PROTOCOL_VERSION; event: K; data: MachineEvents[K] };
}[EventName];

export function eventMessage<K extends EventName>(event: K, data: MachineEvents[K]): EventMessage {
  return { v: PROTOCOL_VERSION, event, data } as EventMessage;
}

/** Buffers to transfer (not copy) with an event: serial chunks and state bytes. */
export function eventTransferables(msg: EventMessage): Transferable[] {
  if (msg.event === 'serial-out' || msg.event === 'virtio-out') return [msg.data.buffer as ArrayBuffer];
  if (msg.event === 'state-saved' && msg.data.bytes) return [msg.data.bytes.buffer as ArrayBuffer];
  return [];
}

/** Objects to transfer with a command: the screen canvas and state bytes (serial input is small: copied). */
export function commandTransferables(cmd: Command): Transferable[] {
  if (cmd.type === 'screen' && cmd.canvas) return [cmd.canvas];
  if (cmd.type === 'boot' && cmd.options.restoreState) return [cmd.options.restoreState.buffer as ArrayBuffer];
  return [];
}

export function isMachineError(x: unknown): x is MachineError {
  return typeof x === 'object' && x !== null && typeof (x as MachineError).code === 'string' && typeof (x as MachineError).message === 'string';
}

// ---- validation on receipt ----

class Invalid extends Error {}

type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

function need(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Invalid(what);
}

function optional<T>(o: Obj, key: string, check: (x: unknown) => x is T, what: string): void {
  if (o[key] !== undefined) need(check(o[key]), `${key}: ${what}`);
}

const isId = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isStr = (x: unknown): x is string => typeof x === 'string';
const isBool = (x: unknown): x is boolean => typeof x === 'boolean';
const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array;
const isPosInt = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) > 0;
const isBlob = (x: unknown): x is Blob => typeof Blob !== 'undefined' && x instanceof Blob;

function checkSource(x: unknown): ArtifactSource {
  need(isObj(x), 'options.source: not an object');
  switch (x.from) {
    case 'store':
      return { from: 'store' };
    case 'url':
      need(isStr(x.baseUrl) && x.baseUrl.length > 0, 'options.source.baseUrl: not a URL');
      return { from: 'url', baseUrl: x.baseUrl };
    case 'path':
      need(isStr(x.dir) && x.dir.length > 0, 'options.source.dir: not a path');
      return { from: 'path', dir: x.dir };
    case 'file': {
      need(isObj(x.files), 'options.source.files: not a map of sha256 to Blob');
      for (const v of Object.values(x.files)) need(isBlob(v), 'options.source.files: a value is not a Blob');
      return { from: 'file', files: x.files as Record<string, Blob> };
    }
    default:
      throw new Invalid(`options.source.from: unknown source ${JSON.stringify(x.from)}`);
  }
}

function checkSteps(x: unknown): ScriptStep[] {
  need(Array.isArray(x) && x.length > 0, 'steps: not a non-empty array');
  return x.map((s, i) => {
    need(isObj(s) && isStr(s.send) && isStr(s.expect), `steps[${i}]: needs send and expect strings`);
    need(s.timeout === undefined || (typeof s.timeout === 'number' && s.timeout > 0 && s.timeout <= 3600), `steps[${i}].timeout: seconds, 0..3600`);
    return s as unknown as ScriptStep;
  });
}

function checkBoot(o: Obj): BootOptions {
  need(isObj(o.options), 'options: not an object');
  const opt = o.options;
  let manifest: Manifest;
  try {
    manifest = validateManifest(opt.manifest);
  } catch (e) {
    throw new Invalid(e instanceof ManifestError ? e.message : `options.manifest: ${String(e)}`);
  }
  const source = checkSource(opt.source);
  optional(opt, 'memoryMB', (m): m is number => isPosInt(m) && (m as number) >= 16 && (m as number) <= 2048, 'MiB, 16..2048');
  optional(opt, 'restoreStateId', isStr, 'not a string');
  optional(opt, 'restoreState', isBytes, 'not a Uint8Array');
  optional(opt, 'serial', isBool, 'not a boolean');
  optional(opt, 'cmdlineAppend', isStr, 'not a string');
  optional(opt, 'app', isStr, 'not a string');
  optional(opt, 'virtioConsole', isBool, 'not a boolean');
  optional(opt, 'stallTimeoutMs', isPosInt, 'not a positive integer');
  need(!(opt.restoreState && opt.restoreStateId), 'options: give restoreState or restoreStateId, not both');
  return { ...(opt as unknown as BootOptions), manifest, source };
}

function checkKeys(x: unknown): x is KeyPress[] {
  return Array.isArray(x) && x.every((k) => isObj(k) && isStr(k.code) && isBool(k.down));
}

function checkScancodes(x: unknown): x is number[] {
  return Array.isArray(x) && x.every((c) => Number.isInteger(c) && c >= 0 && c <= 0xff);
}

function checkCommand(x: unknown): Command {
  need(isObj(x), 'not an object');
  need(x.v === PROTOCOL_VERSION, `protocol version ${String(x.v)} (this worker speaks ${PROTOCOL_VERSION})`);
  const t = x.type;
  need(isStr(t), 'type: missing');
  const withId = (): number => {
    need(isId(x.id), `${t}: id must be a non-negative integer`);
    return x.id;
  };
  switch (t) {
    case 'boot':
      return { type: t, id: withId(), options: checkBoot(x) };
    case 'serial-in':
      need(isBytes(x.bytes), 'serial-in: bytes must be a Uint8Array');
      need(x.port === undefined || x.port === 'serial' || x.port === 'virtio', 'serial-in: port is serial or virtio');
      return { type: t, bytes: x.bytes, ...(x.port ? { port: x.port as 'serial' | 'virtio' } : {}) };
    case 'keyboard':
      optional(x, 'text', isStr, 'not a string');
      optional(x, 'scancodes', checkScancodes, 'not an array of bytes');
      optional(x, 'keys', checkKeys, 'not an array of {code, down}');
      need(x.text !== undefined || x.scancodes !== undefined || x.keys !== undefined, 'keyboard: needs text, scancodes or keys');
      return { type: t, text: x.text as string | undefined, scancodes: x.scancodes as number[] | undefined, keys: x.keys as KeyPress[] | undefined };
    case 'screen':
      need(x.canvas === null || (typeof OffscreenCanvas !== 'undefined' && x.canvas instanceof OffscreenCanvas), 'screen: canvas must be an OffscreenCanvas or null');
      return { type: t, canvas: x.canvas as OffscreenCanvas | null };
    case 'screen-text':
    case 'pause':
    case 'resume':
    case 'reset':
    case 'stop':
      return { type: t, id: withId() };
    case 'save-state':
      optional(x, 'label', isStr, 'not a string');
      optional(x, 'target', (v): v is string => v === 'store' || v === 'transfer', 'store or transfer');
      optional(x, 'prepare', isBool, 'not a boolean');
      return { type: t, id: withId(), label: x.label as string | undefined, target: x.target as 'store' | 'transfer' | undefined, prepare: x.prepare as boolean | undefined };
    case 'run-script':
      return { type: t, id: withId(), steps: checkSteps(x.steps) };
    default:
      throw new Invalid(`unknown command type ${JSON.stringify(t)}`);
  }
}

/** Checks a message received from the other side; a malformed one becomes a `bad-message` error. */
export function validateCommand(x: unknown): Command | MachineError {
  try {
    return checkCommand(x);
  } catch (e) {
    if (!(e instanceof Invalid)) throw e;
    const id = isObj(x) && isId(x.id) ? x.id : undefined;
    return {
      code: 'bad-message',
      message: `Rejected a malformed command: ${e.message}`,
      hint: 'This is a bug in the page or tool talking to the machine; reload the page.',
      ...(id !== undefined ? { id } : {}),
    };
  }
}

/** Wraps a command for sending. */
export function commandMessage(cmd: Command): CommandMessage {
  return { ...cmd, v: PROTOCOL_VERSION };
}
