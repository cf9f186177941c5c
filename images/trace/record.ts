// The trace recorder's host side: reads what the guest printed after its walk of the wide tree (one
// line per path: atime, mtime, type, path; see TRACE_WALK in trace/guest-init.ts) and tells, for
// every path the run touched, the first step that touched it.
//
// Why atime: the wide tree is the initramfs, unpacked with every atime = mtime = SOURCE_DATE_EPOCH; the
// rootfs is mounted relatime, so the first read, exec, mmap, dlopen or symlink follow of a path sets its
// atime to the guest's clock and later ones leave it (atime > mtime, and younger than a day). Step marks
// are files the guest's control shell creates (a shell builtin, touching nothing else) just before the
// host types each step: their time is the step's start on the same clock.

import { HintedError } from '../hinted-error.ts';

export const WALK_BEGIN = 'WHITTLE-WALK-BEGIN';
export const WALK_END = 'WHITTLE-WALK-END';
/** The control shell's step marks: files `<prefix><nn>-<step>` on /dev/shm (a tmpfs the walk does not cross into; no mkdir needed). */
export const MARK_PREFIX = '/dev/shm/whittle-mark-';

export type WalkType = 'file' | 'dir' | 'symlink' | 'other';

export interface WalkEntry {
  /** Relative to /, no leading slash (the RootTree's form). */
  path: string;
  type: WalkType;
  /** Microseconds since 1970 (guest clock). */
  atimeUs: number;
  mtimeUs: number;
}

export interface Mark {
  /** The step that begins here: `smoke 1`, `exercise 2`, `walk`. */
  step: string;
  atUs: number;
}

export class TraceParseError extends HintedError<'trace-parse'> {
  constructor(message: string) {
    super('trace-parse', message, { hint: 'The guest did not print a complete walk: rerun with WHITTLE_DEBUG=1 to see its console, and report it.' });
  }
}

/** busybox `stat -c %x`: `2026-12-01 16:02:49.964094207 +0000` → microseconds since 1970. */
export function parseStatTime(s: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))? ([+-])(\d\d)(\d\d)$/.exec(s.trim());
  if (!m) throw new TraceParseError(`not a stat time: ${JSON.stringify(s)}`);
  const [, y, mo, d, h, mi, sec, frac = '', sign, oh, om] = m;
  const seconds = Date.UTC(+y, +mo - 1, +d, +h, +mi, +sec) / 1000 - (sign === '-' ? -1 : 1) * (+oh * 3600 + +om * 60);
  return seconds * 1e6 + Math.floor(Number(frac.padEnd(9, '0')) / 1000);
}

const TYPES: Record<string, WalkType> = {
  'regular file': 'file',
  'regular empty file': 'file',
  directory: 'dir',
  'symbolic link': 'symlink',
};

/** Mark names after the prefix: `<nn>-<step with dashes>`, e.g. `01-smoke-1`. */
function markStep(name: string): string {
  return name.replace(/^\d+-/, '').replace(/-(\d+)$/, ' $1');
}

/** Parses the walk the guest printed between WALK_BEGIN and WALK_END (lines `atime|mtime|type|/path`). */
export function parseWalk(output: string): { entries: WalkEntry[]; marks: Mark[] } {
  const text = output.replace(/\r/g, '');
  const begin = text.lastIndexOf(`${WALK_BEGIN}\n`);
  const end = text.indexOf(`\n${WALK_END}`, begin);
  if (begin < 0 || end < 0) throw new TraceParseError(`the guest's output has no complete walk (${begin < 0 ? WALK_BEGIN : WALK_END} missing)`);
  const entries: WalkEntry[] = [];
  const marks: Mark[] = [];
  for (const line of text.slice(begin + WALK_BEGIN.length + 1, end).split('\n')) {
    if (!line) continue;
    const parts = line.split('|');
    if (parts.length < 4) throw new TraceParseError(`bad walk line: ${JSON.stringify(line)}`);
    const [atime, mtime, type] = parts;
    const path = parts.slice(3).join('|');
    if (!path.startsWith('/')) throw new TraceParseError(`bad walk line (path not absolute): ${JSON.stringify(line)}`);
    if (path.startsWith(MARK_PREFIX)) {
      marks.push({ step: markStep(path.slice(MARK_PREFIX.length)), atUs: parseStatTime(mtime) });
      continue;
    }
    const rel = path.replace(/^\/+/, '');
    if (!rel) continue;
    entries.push({ path: rel, type: TYPES[type] ?? 'other', atimeUs: parseStatTime(atime), mtimeUs: parseStatTime(mtime) });
  }
  marks.sort((a, b) => a.atUs - b.atUs);
  if (!marks.some((m) => m.step === 'walk')) throw new TraceParseError('the walk has no "walk" mark');
  return { entries, marks };
}

/**
 * path → the first step that touched it: `boot` before the first mark, else the mark it follows.
 * Touched: read (atime after the unpacked mtime) or written (mtime after `epochS`, the mtime every
 * path was unpacked with: a directory a file was created in, a file rewritten), before the `walk`
 * mark (the walk itself lists every directory). Directories count as touched when listed.
 */
export function touchedPaths(entries: readonly WalkEntry[], marks: readonly Mark[], epochS: number): Map<string, string> {
  const walk = marks.find((m) => m.step === 'walk')!.atUs;
  const steps = marks.filter((m) => m.step !== 'walk');
  const unpacked = epochS * 1e6;
  const out = new Map<string, string>();
  for (const e of entries) {
    const read = e.atimeUs > e.mtimeUs && e.atimeUs < walk ? e.atimeUs : Infinity;
    const written = e.mtimeUs > unpacked && e.mtimeUs < walk ? e.mtimeUs : Infinity;
    const first = Math.min(read, written);
    if (first === Infinity) continue;
    let step = 'boot';
    for (const m of steps) if (first >= m.atUs) step = m.step;
    out.set(e.path, step);
  }
  return out;
}
