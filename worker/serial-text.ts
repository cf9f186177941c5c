// The guest's serial console as text: a window over everything decoded so far (absolute offsets
// survive the window moving on), and `waitFor` some text after a point, past the echo of a typed line.
// One of these serves the machine's script runner, the Node host's tests and the page's boot log.
// Environment-neutral (no DOM, no Node).

import { WaitTimedOut } from './errors.ts';

interface Waiter {
  find(): number | undefined;
  resolve(end: number): void;
  reject(e: Error): void;
  settle(): void;
}

export interface WaitOptions {
  /** Absolute offset where the search begins (`end` when the line was typed). */
  from: number;
  timeoutMs: number;
  /** The line typed at `from`: its echo does not count as a match (see `echoEnd`). */
  typed?: string;
  signal?: AbortSignal;
}

export class SerialText {
  #text = '';
  /** Absolute offset of `#text[0]` in all text decoded so far. */
  #base = 0;
  #decoder = new TextDecoder();
  readonly #waiters = new Set<Waiter>();

  /** `keep`: characters kept; the window holds between `keep` and twice that. */
  constructor(private readonly keep = 1 << 20) {}

  /** The recent text (the window). */
  get text(): string {
    return this.#text;
  }

  /** Absolute offset of the end of the text so far. */
  get end(): number {
    return this.#base + this.#text.length;
  }

  /** Decodes a chunk of serial bytes (UTF-8, split anywhere) and wakes the waiters it satisfies. */
  push(bytes: Uint8Array): void {
    this.#append(this.#decoder.decode(bytes, { stream: true }));
  }

  /** The text from absolute offset `from` on (what is still in the window). */
  since(from: number): string {
    return this.#text.slice(Math.max(0, from - this.#base));
  }

  /** The text between two absolute offsets (what of it is still in the window). */
  between(from: number, to: number): string {
    return this.#text.slice(Math.max(0, from - this.#base), Math.max(0, to - this.#base));
  }

  /** Forgets the text (a new boot); offsets keep counting, so a waiter from before never matches old text. */
  clear(): void {
    this.#base += this.#text.length;
    this.#text = '';
    this.#decoder = new TextDecoder();
  }

  /**
   * Resolves with the absolute offset just past `pattern` once it appears after `from` (and after the
   * echo of `typed`); rejects with WaitTimedOut after `timeoutMs`, with `close`'s reason, or on abort.
   */
  waitFor(pattern: string | RegExp, opts: WaitOptions): Promise<number> {
    const find = (): number | undefined => {
      let start = Math.max(0, opts.from - this.#base);
      if (opts.typed !== undefined) {
        const skip = echoEnd(this.#text, start, opts.typed);
        if (skip === 'pending') return undefined;
        if (skip !== 'none') start = skip;
      }
      const hit = search(this.#text, pattern, start);
      return hit === undefined ? undefined : this.#base + hit;
    };
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        w.settle();
        reject(new WaitTimedOut(`Waited ${opts.timeoutMs / 1000} s for ${describe(pattern)} on the console; it did not appear.`, 'The guest may be busy or stuck: look at the console, then try again or reset the machine.'));
      }, opts.timeoutMs);
      const abort = () => {
        w.settle();
        reject(opts.signal?.reason);
      };
      const w: Waiter = {
        find,
        resolve,
        reject,
        settle: () => {
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', abort);
          this.#waiters.delete(w);
        },
      };
      if (opts.signal?.aborted) return abort();
      opts.signal?.addEventListener('abort', abort);
      this.#waiters.add(w);
      this.#check();
    });
  }

  /** Rejects every pending wait with `reason` (the machine stopped). */
  close(reason: Error): void {
    for (const w of [...this.#waiters]) {
      w.settle();
      w.reject(reason);
    }
  }

  #append(s: string): void {
    if (!s) return;
    this.#text += s;
    if (this.#text.length > this.keep * 2) {
      const drop = this.#text.length - this.keep;
      this.#text = this.#text.slice(drop);
      this.#base += drop;
    }
    this.#check();
  }

  #check(): void {
    for (const w of [...this.#waiters]) {
      const end = w.find();
      if (end === undefined) continue;
      w.settle();
      w.resolve(end);
    }
  }
}

/** Index just past the first match of `pattern` in `text` at or after `start`. */
function search(text: string, pattern: string | RegExp, start: number): number | undefined {
  if (typeof pattern === 'string') {
    const i = text.indexOf(pattern, start);
    return i < 0 ? undefined : i + pattern.length;
  }
  const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  const m = re.exec(text.slice(start));
  return m ? start + m.index + m[0].length : undefined;
}

function describe(pattern: string | RegExp): string {
  return typeof pattern === 'string' ? JSON.stringify(pattern) : String(pattern);
}

/**
 * Terminal control sequences a line editor mixes into its echo: CSI (`ESC [ … final`, e.g. busybox's
 * cursor query `ESC[6n`, linenoise's `ESC[0K`), other two-byte escapes, and the CR, LF, BS and spaces
 * it inserts where the line wraps at the terminal's width (busybox: `\r\r\n`).
 */
const WRAP_NOISE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]|[\r\n\b ]/g;

const squeeze = (s: string): string => s.replace(WRAP_NOISE, '');

/**
 * The fewest typed characters (noise removed) on a row the line editor wrapped: an 80-column
 * terminal leaves at least this much beside any prompt this tree's images print (the longest,
 * redis-cli's `127.0.0.1:6379> `, takes 16).
 */
const WRAPPED_ROW_MIN = 16;

/**
 * Where the guest's echo of the line `typed` (typed at `from`) ends: just past the line break that
 * follows it. The echo may span several lines when the line is wider than the terminal, so the lines
 * from `from` are compared with `typed` ignoring what the wrap inserts. `pending` while the echo may
 * still be arriving; `none` when the output is not an echo of `typed` (the guest does not echo).
 */
export function echoEnd(text: string, from: number, typed: string): number | 'pending' | 'none' {
  const want = squeeze(typed);
  let nl = text.indexOf('\n', from);
  while (nl >= 0) {
    const seen = squeeze(text.slice(from, nl));
    if (seen.includes(want)) return nl + 1;
    // A wrapped echo so far ends with the start of the typed line (a redrawing editor repeats it),
    // a whole row of it: a line shorter than that does not wrap.
    if (!endsWithStartOf(seen, want, WRAPPED_ROW_MIN)) return 'none';
    nl = text.indexOf('\n', nl + 1);
  }
  return 'pending';
}

function endsWithStartOf(seen: string, want: string, min: number): boolean {
  for (let n = Math.min(seen.length, want.length - 1); n >= min; n--) if (seen.endsWith(want.slice(0, n))) return true;
  return false;
}
