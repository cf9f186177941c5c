// The one typed message protocol between the page (or a Node host) and a machine worker.
// Commands go in, events come out; commands are validated on receipt. Only types and pure functions here.
// Commands are valibot schemas and their types are inferred from them: the check on receipt and the
// type the sender writes are one definition.

import * as v from 'valibot';
import { describeIssues, ManifestSchema, MAX_MEMORY_MB, MIN_MEMORY_MB, ScriptSchema } from '../images/manifest.ts';
import { NetworkSchema } from './network.ts';
import type { HttpResponse, NetworkCounters } from './network.ts';

export const PROTOCOL_VERSION = 1;

const nonEmpty = (what: string) => v.pipe(v.string(what), v.minLength(1, what));
const flag = v.optional(v.boolean('not a boolean'));
const positiveInt = v.pipe(v.number('not a positive integer'), v.safeInteger('not a positive integer'), v.minValue(1, 'not a positive integer'));
const IdSchema = v.pipe(v.number('must be a non-negative integer'), v.safeInteger('must be a non-negative integer'), v.minValue(0, 'must be a non-negative integer'));
// Typed as plain `Uint8Array` (any buffer), as received bytes are; v.instance would narrow it to ArrayBuffer.
const BytesSchema = v.custom<Uint8Array>((x) => x instanceof Uint8Array, 'must be a Uint8Array');
// Blob and OffscreenCanvas may not exist where this module loads (Node, older workers): checked by hand.
const BlobSchema = v.custom<Blob>((x) => typeof Blob !== 'undefined' && x instanceof Blob, 'not a Blob');
const CanvasSchema = v.custom<OffscreenCanvas | null>(
  (x) => x === null || (typeof OffscreenCanvas !== 'undefined' && x instanceof OffscreenCanvas),
  'must be an OffscreenCanvas or null',
);

/** Where a machine reads an image's artifacts from. */
export const ArtifactSourceSchema = v.variant(
  'from',
  [
    // IndexedDB image store, keyed by artifact (or chunk) sha256 (browser)
    v.object({ from: v.literal('store') }),
    // fetched relative to the manifest's URL, verified by sha256; `keep`: files already kept in this
    // browser's image store are read from there, and what is fetched is kept there (browser only)
    v.object({ from: v.literal('url'), baseUrl: nonEmpty('not a URL'), keep: v.optional(v.boolean('not a boolean')) }),
    // a user's own files (import), keyed by artifact sha256
    v.object({ from: v.literal('file'), files: v.record(v.string(), BlobSchema, 'not a map of sha256 to Blob') }),
    // a directory on disk holding manifest.json's files (Node only)
    v.object({ from: v.literal('path'), dir: nonEmpty('not a path') }),
  ],
  (issue) => (issue.path ? `unknown source ${JSON.stringify(issue.input)}` : 'not an object'),
);
export type ArtifactSource = v.InferOutput<typeof ArtifactSourceSchema>;

export const BootOptionsSchema = v.pipe(
  v.object(
    {
      manifest: ManifestSchema,
      source: ArtifactSourceSchema,
      /** Override the manifest's guest memory (MiB). */
      memoryMB: v.optional(
        v.pipe(
          v.number(),
          v.safeInteger(`MiB, ${MIN_MEMORY_MB}..${MAX_MEMORY_MB}`),
          v.minValue(MIN_MEMORY_MB, `MiB, ${MIN_MEMORY_MB}..${MAX_MEMORY_MB}`),
          v.maxValue(MAX_MEMORY_MB, `MiB, ${MIN_MEMORY_MB}..${MAX_MEMORY_MB}`),
        ),
      ),
      /** Resume from a saved state in the worker's state store (its id) instead of booting. */
      restoreStateId: v.optional(v.string('not a string')),
      /** Resume from these saved-state bytes (as `save-state` with `target: 'transfer'` returned them). */
      restoreState: v.optional(BytesSchema),
      /** Send serial output events (default true). */
      serial: flag,
      /** Appended to the manifest's kernel command line (experiments, e.g. `init_on_free=1`). */
      cmdlineAppend: v.optional(v.string('not a string')),
      /**
       * For images that start an app by hand (a distro's `apps`): after the ready marker the machine types
       * the app's command and the `ready` phase ends at the app's ready marker.
       */
      app: v.optional(v.string('not a string')),
      /** Add a virtio console device (its output arrives as `virtio-out`). */
      virtioConsole: flag,
      /** Report `guest-unresponsive` when a boot prints nothing for this long before it is ready (default 120 s). */
      stallTimeoutMs: v.optional(positiveInt),
      /** Give the machine a host share (v86's virtio-9p, tag `host9p`; the `share-*` commands); default: the manifest's `share`. */
      share: flag,
      /** The network card's connection (worker/network.ts): off (default), the lab segment, or the web through v86's fetch router. */
      network: v.optional(NetworkSchema),
    },
    'not an object',
  ),
  v.check((o) => !(o.restoreState && o.restoreStateId), 'give restoreState or restoreStateId, not both'),
);
export type BootOptions = v.InferOutput<typeof BootOptionsSchema>;

/** A physical key as the page saw it (`KeyboardEvent.code`), pressed or released. */
export const KeyPressSchema = v.object({ code: v.string(), down: v.boolean() });
export type KeyPress = v.InferOutput<typeof KeyPressSchema>;

const withId = <T extends string>(type: T) => v.object({ type: v.literal(type), id: IdSchema });

/**
 * Commands. Those with an `id` are answered by `done { id }` or by an `error` carrying that id;
 * `save-state`, `run-script` and `screen-text` also send their result event (same id) before `done`
 * (ANSWER_EVENTS); `run-script` reports each step as it goes (PROGRESS_EVENTS).
 */
export const CommandSchema = v.variant(
  'type',
  [
    /** Load the image's artifacts and start the machine (stops a running one first); `done` once it runs. */
    v.object({ type: v.literal('boot'), id: IdSchema, options: BootOptionsSchema }),
    /** Bytes typed on the serial console (or the virtio console). */
    v.object({ type: v.literal('serial-in'), bytes: BytesSchema, port: v.optional(v.picklist(['serial', 'virtio'], 'serial or virtio')) }),
    /** PS/2 keyboard input for the VGA console: text (US layout), raw set-1 scancodes, or physical keys. */
    v.pipe(
      v.object({
        type: v.literal('keyboard'),
        text: v.optional(v.string('not a string')),
        scancodes: v.optional(v.array(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xff, 'not a byte')), 'not an array of bytes')),
        keys: v.optional(v.array(KeyPressSchema, 'not an array of {code, down}')),
      }),
      v.check((k) => k.text !== undefined || k.scancodes !== undefined || k.keys !== undefined, 'keyboard: needs text, scancodes or keys'),
    ),
    /** The canvas to draw the VGA screen on (transferred; bound to this worker for good), or null. */
    v.object({ type: v.literal('screen'), canvas: CanvasSchema }),
    /** The VGA text screen as lines (answered by `screen-text`). */
    withId('screen-text'),
    withId('pause'),
    withId('resume'),
    withId('reset'),
    withId('stop'),
    v.object({
      type: v.literal('save-state'),
      id: IdSchema,
      label: v.optional(v.string('not a string')),
      /** `store`: keep it in the worker's state store (browser default); `transfer`: send the bytes back. */
      target: v.optional(v.picklist(['store', 'transfer'], 'store or transfer')),
      /** Type the image's `beforeSaveState` line first (only when the guest sits at its ready prompt). */
      prepare: flag,
    }),
    /**
     * Types each step's `send` line on the serial console and waits (up to `timeout` s, default 10) for
     * `expect` in the output that follows, not counting the guest's echo of the line itself (also when
     * it wrapped), then, before the next line, up to `timeout` again for the prompt. Reports each step
     * as `script-step`; answered by `script-done` with the transcript; a step whose answer or prompt
     * does not come ends the script with `ok: false` (worker/script-runner.ts).
     */
    v.object({ type: v.literal('run-script'), id: IdSchema, steps: v.pipe(ScriptSchema, v.minLength(1, 'not a non-empty array')) }),
    /**
     * Puts a file into the host share (the guest's /mnt/host; worker/share.ts): `data` is read in chunks
     * (`share-progress`), then the whole file appears at `path` (relative, `/` for folders), replacing
     * one of that name. Names are checked by the share (`bad-path`), not here: a bad one is the user's.
     */
    v.object({ type: v.literal('share-put'), id: IdSchema, path: v.string('not a path'), data: BlobSchema, mtime: v.optional(v.number('not a time')) }),
    /** Lists the host share (answered by `share-list`). */
    withId('share-list'),
    /** Reads one file of the host share (answered by `share-file`). */
    v.object({ type: v.literal('share-read'), id: IdSchema, path: v.string('not a path') }),
    /** The whole host share as a tar (answered by `share-file`, path `''`). */
    withId('share-archive'),
    /**
     * An HTTP request from the host to the guest's TCP `port` (default 80) over its network card
     * (worker/network-link.ts); answered by `http-response`. Needs a machine booted on the lab or the web.
     */
    v.object({
      type: v.literal('http-get'),
      id: IdSchema,
      path: v.pipe(v.string('not a path'), v.startsWith('/', 'must start with /'), v.maxLength(8192, 'longer than 8192 characters'), v.regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')),
      port: v.optional(v.pipe(v.number(), v.safeInteger('not a port'), v.minValue(1, 'not a port'), v.maxValue(65535, 'not a port'))),
      method: v.optional(v.picklist(['GET', 'HEAD'], 'GET or HEAD')),
      headers: v.optional(v.record(v.pipe(v.string(), v.regex(/^[\w-]+$/, 'not a header name')), v.pipe(v.string(), v.regex(/^[\x20-\x7e]*$/, 'not a header value')))),
    }),
  ],
  (issue) => (issue.input === undefined ? 'missing' : `unknown command type ${JSON.stringify(issue.input)}`),
);
export type Command = v.InferOutput<typeof CommandSchema>;

export type CommandType = Command['type'];

/** The event that answers a command (same id) before its `done`; other commands answer with `done` alone. */
export const ANSWER_EVENTS = {
  'save-state': 'state-saved',
  'run-script': 'script-done',
  'screen-text': 'screen-text',
  'share-list': 'share-list',
  'share-read': 'share-file',
  'share-archive': 'share-file',
  'http-get': 'http-response',
} as const;

/** The events that report a command's progress (same id) while it runs. */
export const PROGRESS_EVENTS = { 'run-script': 'script-step', 'share-put': 'share-progress' } as const;

type EventOf<T, Map> = T extends keyof Map ? (Map[T] extends EventName ? MachineEvents[Map[T]] : never) : undefined;

/** What a command resolves with, by type (`request()` in bridge.ts needs no cast): like v86.d.ts's `interface Event`. */
export type CommandAnswer<T extends CommandType> = EventOf<T, typeof ANSWER_EVENTS>;

/** A command's progress event, by type (`never` for commands that report none). */
export type CommandProgress<T extends CommandType> = T extends keyof typeof PROGRESS_EVENTS ? MachineEvents[(typeof PROGRESS_EVENTS)[T]] : never;

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
  | 'guest-boot-failed'
  /** The machine runs on, but an appliance's service failed at boot (images/init.ts says which). */
  | 'guest-service-failed'
  /** The machine runs on, but its kernel killed a program for lack of memory. */
  | 'guest-out-of-memory'
  | 'storage'
  | 'not-running'
  | 'worker-crashed'
  | 'no-share'
  | 'bad-path'
  | 'file-too-large'
  | 'file-not-found'
  | 'no-network'
  | 'http-failed'
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
  /** Memory (MiB) to boot with instead: a guest that died for lack of it (worker/guest-messages.ts). */
  memoryMB?: number;
}

export interface ScreenMode {
  graphical: boolean;
  /** Text mode: columns and rows; graphics mode: pixels. */
  width: number;
  height: number;
}

/** A file, folder or link in the host share (`share-list`). */
export interface ShareEntry {
  /** Relative to the share's root (the guest's /mnt/host), `/`-separated. */
  path: string;
  kind: 'file' | 'dir' | 'link' | 'other';
  /** Bytes (files only; 0 for the rest). */
  size: number;
  /** Last modification, ms since the epoch (the share keeps seconds). */
  mtime: number;
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
  /** A `run-script` step (0-based) being typed, answered (and the prompt back), or failed. */
  'script-step': { id: number; step: number; state: 'typing' | 'ok' | 'failed' };
  /** `failedStep` is 0-based; `message` names the step 1-based, for people. */
  'script-done': { id: number; ok: boolean; transcript: string; failedStep?: number; message?: string };
  'screen-mode': ScreenMode;
  'screen-text': { id: number; lines: string[] };
  progress: { what: string; done: number; total: number };
  /** A boot from a `url` source with `keep`: files fetched, read from and kept in this browser's store so far (image-store.ts KeepReport). */
  kept: { fetched: number; fromStore: number; kept: number; keptBytes: number; error?: MachineError };
  /** A `share-put`'s bytes read so far. */
  'share-progress': { id: number; path: string; done: number; total: number };
  'share-list': { id: number; entries: ShareEntry[]; truncated: boolean; usedBytes: number; limitBytes: number };
  /** A file read back (`share-read`), or the whole share as a tar (`share-archive`, path `''`). */
  'share-file': { id: number; path: string; bytes: Uint8Array; mtime: number };
  /** The share's files changed (the guest or a put created, wrote, renamed or removed one); at most a few a second. */
  'share-changed': Record<string, never>;
  /** A networked machine's card: its address and packets counted (once a second while they change). */
  network: NetworkCounters;
  /** An `http-get`'s answer; `ms` from the request to the whole answer. */
  'http-response': { id: number; ms: number } & HttpResponse;
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
  if (msg.event === 'share-file') return [msg.data.bytes.buffer as ArrayBuffer];
  if (msg.event === 'http-response') return [msg.data.body.buffer as ArrayBuffer];
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

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Checks a message received from the other side; a malformed one becomes a `bad-message` error. */
export function validateCommand(x: unknown): Command | MachineError {
  let problem: string;
  if (!isObj(x)) problem = 'not an object';
  // The version first: a message from another build may be well-formed in its own protocol.
  else if (x.v !== PROTOCOL_VERSION) problem = `protocol version ${String(x.v)} (this worker speaks ${PROTOCOL_VERSION})`;
  else {
    const r = v.safeParse(CommandSchema, x);
    if (r.success) return r.output;
    problem = describeIssues(r.issues);
  }
  const id = v.is(IdSchema, (x as { id?: unknown } | null)?.id) ? (x as { id: number }).id : undefined;
  return {
    code: 'bad-message',
    message: `Rejected a malformed command: ${problem}`,
    hint: 'This is a bug in the page or tool talking to the machine; reload the page.',
    ...(id !== undefined ? { id } : {}),
  };
}

/** Wraps a command for sending. */
export function commandMessage(cmd: Command): CommandMessage {
  return { ...cmd, v: PROTOCOL_VERSION };
}
