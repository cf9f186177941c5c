// Boot phases as segments on a time axis, from the marks a machine streams (worker/protocol.ts): a mark
// names the phase that just ended. `ready` ends the `app` segment of a distro that starts its app by
// hand (BootOptions.app); for an appliance, `ready` comes with `userspace` and there is no app segment.

import type { BootPhaseName, PhaseMark } from '../../../worker/protocol.ts';

export type SegmentName = 'firmware' | 'kernel' | 'userspace' | 'app';

export interface Segment {
  phase: SegmentName;
  /** Milliseconds since the machine started executing. */
  start: number;
  end: number;
  /** Guest instructions retired during the segment (closed segments only). */
  instructions?: number;
  /** Still going: `end` is "now". */
  open: boolean;
}

export interface Moment {
  at: number;
  instructions: number;
}

const ENDS: [SegmentName, BootPhaseName][] = [
  ['firmware', 'firmware'],
  ['kernel', 'kernel'],
  ['userspace', 'userspace'],
  ['app', 'ready'],
];

/**
 * Segments so far. `now` (ms since start) draws the running segment for a live view; `withApp` says the
 * machine starts an app by hand after userspace (so an `app` segment runs until `ready`).
 */
export function phaseSegments(marks: readonly PhaseMark[], options: { now?: number; withApp?: boolean } = {}): Segment[] {
  const at = new Map<BootPhaseName, PhaseMark>();
  for (const m of marks) at.set(m.phase, m);
  // A restored machine never booted: it has no phases to draw.
  if (at.has('restored')) return [];
  let start: Moment = { at: 0, instructions: 0 };
  const out: Segment[] = [];
  for (const [phase, endName] of ENDS) {
    if (phase === 'app' && !options.withApp) break;
    const end = at.get(endName);
    if (end) {
      out.push({ phase, start: start.at, end: end.at, instructions: end.instructions - start.instructions, open: false });
      start = end;
    } else {
      // The first phase without an end is the running one; later ones have not started.
      if (options.now !== undefined) out.push({ phase, start: start.at, end: Math.max(start.at, options.now), open: true });
      break;
    }
  }
  return out;
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
