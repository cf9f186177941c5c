// Live progress of machines booting side by side: one line per machine with the phase it is in and
// the time since it started. Bars on a terminal (cli-progress); plain lines per phase otherwise (CI logs).

import cliProgress from 'cli-progress';
import { currentPhase, PHASES } from './measure.ts';
import type { PhaseMark } from '../protocol.ts';
import { formatMs } from '../../images/format.ts';

interface Line {
  label: string;
  started: number;
  marks: PhaseMark[];
  status?: string;
  ended?: number;
  bar?: cliProgress.SingleBar;
}

export class BootProgress {
  readonly #lines = new Map<string, Line>();
  readonly #stream: NodeJS.WriteStream;
  readonly #bars: cliProgress.MultiBar | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
    if (stream.isTTY) {
      this.#bars = new cliProgress.MultiBar(
        { stream, format: '{label} {bar} {phase} {elapsed}', barsize: 20, hideCursor: true, clearOnComplete: false, autopadding: true, gracefulExit: true },
        cliProgress.Presets.shades_grey,
      );
      this.#timer = setInterval(() => this.#redraw(), 250);
    }
  }

  /** Starts (or, for another run, restarts) the line of a machine about to boot. */
  start(label: string, note = ''): void {
    const width = Math.max(label.length, ...[...this.#lines.keys()].map((l) => l.length));
    const old = this.#lines.get(label);
    const line: Line = { label, started: performance.now(), marks: [], ...(old?.bar ? { bar: old.bar } : {}) };
    this.#lines.set(label, line);
    if (this.#bars) line.bar ??= this.#bars.create(PHASES.length, 0, { label: label.padEnd(width), phase: 'loading', elapsed: formatMs(0) });
    else this.#stream.write(`${label}: booting${note ? ` (${note})` : ''}\n`);
    this.#redraw();
  }

  mark(label: string, mark: PhaseMark): void {
    const line = this.#lines.get(label);
    if (!line) return;
    line.marks.push(mark);
    const next = currentPhase(line.marks);
    if (!this.#bars && mark.phase !== 'load' && next !== 'ready') this.#stream.write(`${label}: ${mark.phase} done at ${formatMs(mark.at)} → ${next}\n`);
    this.#redraw();
  }

  /** Ends a machine's line with a word (`ready`, `failed`) and, in logs, a detail (`prompt at 0.82 s`). */
  finish(label: string, status: string, detail?: string): void {
    const line = this.#lines.get(label);
    if (!line) return;
    line.status = status;
    line.ended = performance.now();
    if (!this.#bars) this.#stream.write(`${label}: ${status}${detail ? `, ${detail}` : ''}\n`);
    this.#redraw();
  }

  #redraw(): void {
    const width = Math.max(0, ...[...this.#lines.keys()].map((l) => l.length));
    for (const line of this.#lines.values()) {
      if (!line.bar) continue;
      const phase = currentPhase(line.marks);
      const done = phase === 'ready' ? PHASES.length : phase === 'loading' ? 0 : PHASES.indexOf(phase);
      line.bar.update(done, { label: line.label.padEnd(width), phase: (line.status ?? phase).padEnd(10), elapsed: formatMs((line.ended ?? performance.now()) - line.started) });
    }
  }

  /** Stops redrawing (call before printing the table). */
  stop(): void {
    clearInterval(this.#timer);
    this.#redraw();
    this.#bars?.stop();
  }
}
