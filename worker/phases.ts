// Boot phases as durations, from the marks a machine streams (protocol.ts: a mark names the phase that
// just ended). One computation for the page's timelines and compare view, `npm run compare` and the
// bench, so they agree on the same boot. Pure: the page imports it.

import type { BootPhaseName, PhaseMark } from './protocol.ts';

/**
 * The phases timelines and tables show, in order. `app` is the time a distro takes to start its app by
 * hand (BootOptions.app) and ends at `ready`; for an appliance, `ready` comes with `userspace`.
 */
export const PHASES = ['firmware', 'kernel', 'userspace', 'app'] as const;
export type Phase = (typeof PHASES)[number];

const END: Record<Phase, BootPhaseName> = { firmware: 'firmware', kernel: 'kernel', userspace: 'userspace', app: 'ready' };

export interface Moment {
  /** Milliseconds since the machine started executing. */
  at: number;
  instructions: number;
}

export interface Segment {
  phase: Phase;
  /** Milliseconds since the machine started executing. */
  start: number;
  end: number;
  /** Guest instructions retired during the segment (closed segments only). */
  instructions?: number;
  /** Still going: `end` is "now". */
  open: boolean;
}

/**
 * Segments so far. `now` (ms since start) draws the running segment for a live view; `withApp` says the
 * machine starts an app by hand after userspace (so an `app` segment runs until `ready`).
 * A mark seen on the CPU (a `quiet` kernel) can land a hair before the console mark of the phase
 * before it: a segment never runs backwards, it is empty instead, and the next starts at the later end.
 */
export function phaseSegments(marks: readonly PhaseMark[], options: { now?: number; withApp?: boolean } = {}): Segment[] {
  const at = new Map<BootPhaseName, PhaseMark>();
  for (const m of marks) at.set(m.phase, m);
  // A restored machine never booted: it has no phases to draw.
  if (at.has('restored')) return [];
  let start: Moment = { at: 0, instructions: 0 };
  const out: Segment[] = [];
  for (const phase of PHASES) {
    if (phase === 'app' && !options.withApp) break;
    const end = at.get(END[phase]);
    if (end) {
      const stop: Moment = { at: Math.max(start.at, end.at), instructions: Math.max(start.instructions, end.instructions) };
      out.push({ phase, start: start.at, end: stop.at, instructions: stop.instructions - start.instructions, open: false });
      start = stop;
    } else {
      // The first phase without an end is the running one; later ones have not started.
      if (options.now !== undefined) out.push({ phase, start: start.at, end: Math.max(start.at, options.now), open: true });
      break;
    }
  }
  return out;
}

/** What the CLI and bench report of a boot: each phase's duration and instructions (NaN until it ended). */
export interface PhaseDurations {
  phases: Record<Phase, number>;
  phaseInstructions: Record<Phase, number>;
  /** Milliseconds and guest instructions to `ready` (NaN before). */
  readyMs: number;
  instructions: number;
}

/** The same segments as numbers per phase (an appliance's `app` phase is 0: `ready` comes with `userspace`). */
export function phaseDurations(marks: readonly PhaseMark[]): PhaseDurations {
  const closed = new Map(phaseSegments(marks, { withApp: true }).map((s) => [s.phase, s]));
  const phases = {} as Record<Phase, number>;
  const phaseInstructions = {} as Record<Phase, number>;
  for (const p of PHASES) {
    const s = closed.get(p);
    phases[p] = s ? s.end - s.start : NaN;
    phaseInstructions[p] = s?.instructions ?? NaN;
  }
  const ready = timeToReady(marks);
  return { phases, phaseInstructions, readyMs: ready?.at ?? NaN, instructions: ready?.instructions ?? NaN };
}

/** Which phase a machine is in, from the marks seen so far (for progress lines). */
export function currentPhase(marks: readonly PhaseMark[]): 'loading' | Phase | 'ready' {
  const seen = new Set(marks.map((m) => m.phase));
  if (seen.has('ready')) return 'ready';
  if (seen.has('userspace')) return 'app';
  if (seen.has('kernel')) return 'userspace';
  if (seen.has('firmware')) return 'kernel';
  if (seen.has('load')) return 'firmware';
  return 'loading';
}

/** Time and instructions to the prompt that matters: `ready` (the app waits for input). */
export function timeToReady(marks: readonly PhaseMark[]): Moment | undefined {
  const ready = marks.find((m) => m.phase === 'ready');
  return ready && { at: ready.at, instructions: ready.instructions };
}

/** Milliseconds spent loading (and verifying) the images before the machine started. */
export function loadTime(marks: readonly PhaseMark[]): number | undefined {
  return marks.find((m) => m.phase === 'load')?.at;
}
