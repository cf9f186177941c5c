// Summaries of repeated runs (median, min, max) and the ratios the compare and bench tables and the lab's
// compare view print. Pure: shared by the page and the Node CLI.

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** How many finite values were summarized. */
  n: number;
}

/** The median of the finite values (mean of the middle two for an even count); NaN when there are none. */
export function median(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function summarize(values: readonly number[]): Summary {
  const v = values.filter(Number.isFinite);
  return { median: median(v), min: v.length ? Math.min(...v) : NaN, max: v.length ? Math.max(...v) : NaN, n: v.length };
}

/**
 * How many times `value` is `base` (debian's 60 s over shell's 1 s is 60): what the tables print as
 * "60×". NaN when either is missing or not positive, so a failed run never turns into a ratio.
 */
export function ratio(value: number, base: number): number {
  if (!Number.isFinite(value) || !Number.isFinite(base) || base <= 0 || value < 0) return NaN;
  return value / base;
}
