// The benchmark's targets (issue 6): checked and reported with how far off they are, never asserted.

import { formatRatio } from '../../images/format.ts';

export interface TargetCheck {
  /** What is measured, e.g. `shell cold boot to its prompt`. */
  name: string;
  /** The goal as written: `≤ 1.00 s`. */
  goal: string;
  /** The measured value, formatted; `—` when it could not be measured. */
  measured: string;
  /** Undefined when nothing was measured. */
  met?: boolean;
  /** How far from the goal: `0.18 s to spare`, `missed by 2.3 s (3.3× the limit)`. */
  by: string;
}

/** A value that should stay at or under `limit` (times, sizes). */
export function atMost(name: string, value: number, limit: number, fmt: (n: number) => string): TargetCheck {
  const goal = `≤ ${fmt(limit)}`;
  if (!Number.isFinite(value)) return { name, goal, measured: '—', by: 'not measured' };
  const met = value <= limit;
  const by = met ? `${fmt(limit - value)} to spare` : `missed by ${fmt(value - limit)} (${formatRatio(value / limit)} the limit)`;
  return { name, goal, measured: fmt(value), met, by };
}

/** A value that should reach at least `limit` (speed-ups). */
export function atLeast(name: string, value: number, limit: number, fmt: (n: number) => string): TargetCheck {
  const goal = `≥ ${fmt(limit)}`;
  if (!Number.isFinite(value)) return { name, goal, measured: '—', by: 'not measured' };
  const met = value >= limit;
  const by = met ? `${fmt(value - limit)} above` : `missed by ${fmt(limit - value)} (${Math.round((value / limit) * 100)} % of the goal)`;
  return { name, goal, measured: fmt(value), met, by };
}

/** One line per target: `✓ shell cold boot ≤ 1.00 s: 0.82 s (0.18 s to spare)`. */
export function formatCheck(c: TargetCheck): string {
  const mark = c.met === undefined ? '?' : c.met ? '✓' : '✗';
  return `${mark} ${c.name} ${c.goal}: ${c.measured} (${c.by})`;
}
