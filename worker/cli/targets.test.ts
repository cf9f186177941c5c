import { describe, expect, it } from 'vitest';
import { formatBytes, formatMs, formatRatio } from '../../images/format.ts';
import { atLeast, atMost, formatCheck } from './targets.ts';

describe('targets', () => {
  it('reports a time under its limit as met, with the margin', () => {
    const c = atMost('shell cold boot', 820, 1000, formatMs);
    expect(c).toMatchObject({ met: true, goal: '≤ 1.00 s', measured: '820 ms', by: '180 ms to spare' });
    expect(formatCheck(c)).toBe('✓ shell cold boot ≤ 1.00 s: 820 ms (180 ms to spare)');
  });
  it('says by how much a limit is missed', () => {
    expect(atMost('shell restore', 500, 200, formatMs)).toMatchObject({ met: false, by: 'missed by 300 ms (2.5× the limit)' });
    expect(atMost('shell download', 3e6, 2.5e6, formatBytes)).toMatchObject({ met: false, by: 'missed by 500 kB (1.2× the limit)' });
  });
  it('checks speed-ups from below', () => {
    expect(atLeast('sqlite vs debian', 62, 40, formatRatio)).toMatchObject({ met: true, by: '22× above' });
    expect(atLeast('sqlite vs debian', 30, 40, formatRatio)).toMatchObject({ met: false, by: 'missed by 10× (75 % of the goal)' });
  });
  it('neither meets nor misses what was not measured', () => {
    const c = atLeast('lua vs debian', NaN, 40, formatRatio);
    expect(c.met).toBeUndefined();
    expect(formatCheck(c)).toBe('? lua vs debian ≥ 40×: — (not measured)');
  });
});
