import { describe, expect, it } from 'vitest';
import { niceTicks } from './ticks.ts';

describe('niceTicks', () => {
  it('covers the range with round steps', () => {
    expect(niceTicks(1340)).toEqual([0, 500, 1000, 1500]);
    expect(niceTicks(62_000)).toEqual([0, 20_000, 40_000, 60_000, 80_000]);
    expect(niceTicks(10_000)).toEqual([0, 2000, 4000, 6000, 8000, 10_000]);
  });
  it('is just zero for an empty range', () => {
    expect(niceTicks(0)).toEqual([0]);
  });
});
