// Reads a kernel boot log (serial console text with `[    0.123456]` timestamps) and finds where the
// time went: the gaps between consecutive lines, largest first, and `initcall_debug` durations.

export interface LogLine {
  /** 0-based line number in the log. */
  index: number;
  /** Kernel timestamp in seconds, when the line has one. */
  time?: number;
  text: string;
  /** Seconds since the previous timestamped line: the time spent after that line, before this one. */
  gapBefore?: number;
}

export interface Gap {
  /** Seconds between the two lines. */
  seconds: number;
  /** The line printed before the pause (usually names what was going on), and the line that ended it. */
  after: LogLine;
  before: LogLine;
}

export interface Initcall {
  name: string;
  usecs: number;
  line: LogLine;
}

const STAMP = /^\[\s*(\d+\.\d+)\]\s?(.*)$/;
const INITCALL = /initcall (\S+) returned -?\d+ after (\d+) usecs/;
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|[\x00-\x08\x0b-\x1f\x7f]/g;

/** Splits serial text into lines, strips terminal escapes and CRs, and reads each line's timestamp. */
export function parseBootLog(text: string): LogLine[] {
  const lines: LogLine[] = [];
  let previous: number | undefined;
  for (const raw of text.split('\n')) {
    const clean = raw.replace(/\r/g, '').replace(ESCAPES, '');
    const m = STAMP.exec(clean);
    const line: LogLine = { index: lines.length, text: m ? m[2] : clean };
    if (m) {
      line.time = Number(m[1]);
      if (previous !== undefined) line.gapBefore = Math.max(0, line.time - previous);
      previous = line.time;
    }
    lines.push(line);
  }
  return lines;
}

/** The `count` largest pauses between timestamped lines, largest first. */
export function largestGaps(lines: readonly LogLine[], count = 5): Gap[] {
  const gaps: Gap[] = [];
  let last: LogLine | undefined;
  for (const line of lines) {
    if (line.time === undefined) continue;
    if (last && line.gapBefore !== undefined) gaps.push({ seconds: line.gapBefore, after: last, before: line });
    last = line;
  }
  return gaps.sort((a, b) => b.seconds - a.seconds || a.before.index - b.before.index).slice(0, count);
}

/** Durations reported by `initcall_debug`, longest first. */
export function initcalls(lines: readonly LogLine[]): Initcall[] {
  const out: Initcall[] = [];
  for (const line of lines) {
    const m = INITCALL.exec(line.text);
    if (m) out.push({ name: m[1], usecs: Number(m[2]), line });
  }
  return out.sort((a, b) => b.usecs - a.usecs);
}

/** The kernel time of the last timestamped line (how long the kernel had run when the log ends). */
export function kernelSpan(lines: readonly LogLine[]): number {
  for (let i = lines.length - 1; i >= 0; i--) if (lines[i].time !== undefined) return lines[i].time!;
  return 0;
}
