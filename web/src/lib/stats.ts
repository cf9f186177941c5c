// Summaries of repeated runs (medians, min, max) and the ratios the compare table shows.

export interface Summary {
  median: number;
  min: number;
  max: number;
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
 * How many times larger `other` is than `base` (e.g. debian's boot time over the appliance's): the
 * number the compare table prints as "42×". NaN when either is missing or the base is zero.
 */
export function ratio(other: number, base: number): number {
  if (!Number.isFinite(other) || !Number.isFinite(base) || base <= 0 || other < 0) return NaN;
  return other / base;
}
