import { describe, expect, it } from 'vitest';
import { median, ratio, summarize } from './stats.ts';

describe('median', () => {
  it('takes the middle value of an odd count, in any order', () => {
    expect(median([5, 1, 3])).toBe(3);
  });
  it('averages the middle two of an even count', () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
  it('ignores values that are not finite, and is NaN without any', () => {
    expect(median([NaN, 2, Infinity, 4])).toBe(3);
    expect(median([])).toBeNaN();
  });
  it('does not reorder its input (the compare view keeps its runs in order)', () => {
    const v = [3, 1, 2];
    median(v);
    expect(v).toEqual([3, 1, 2]);
  });
});

describe('summarize', () => {
  it('gives median, min, max and the count of finite runs', () => {
    expect(summarize([900, 1100, NaN, 1000])).toEqual({ median: 1000, min: 900, max: 1100, n: 3 });
  });
  it('is all NaN for no runs', () => {
    expect(summarize([])).toEqual({ median: NaN, min: NaN, max: NaN, n: 0 });
  });
});

describe('ratio', () => {
  it('says how many times the base a value is', () => {
    expect(ratio(60_000, 1000)).toBe(60);
    expect(ratio(500, 1000)).toBe(0.5);
  });
  it('is NaN rather than Infinity or a guess when a side is missing or zero', () => {
    expect(ratio(5, 0)).toBeNaN();
    expect(ratio(NaN, 1)).toBeNaN();
    expect(ratio(1, NaN)).toBeNaN();
    expect(ratio(-1, 1)).toBeNaN();
  });
});
