import { describe, expect, it } from 'vitest';
import type { PhaseMark } from '../../../worker/protocol.ts';
import { loadTime, phaseSegments, timeToReady } from './phases.ts';

const mark = (phase: PhaseMark['phase'], at: number, instructions = at * 1000): PhaseMark => ({ phase, at, instructions });
const BOOT = [mark('load', 40), mark('firmware', 700), mark('kernel', 1100), mark('userspace', 1300), mark('ready', 1300)];

describe('phaseSegments', () => {
  it('turns end marks into firmware, kernel and userspace segments', () => {
    expect(phaseSegments(BOOT)).toEqual([
      { phase: 'firmware', start: 0, end: 700, instructions: 700_000, open: false },
      { phase: 'kernel', start: 700, end: 1100, instructions: 400_000, open: false },
      { phase: 'userspace', start: 1100, end: 1300, instructions: 200_000, open: false },
    ]);
  });
  it('draws the running phase up to "now" during a live boot', () => {
    const live = phaseSegments(BOOT.slice(0, 2), { now: 900 });
    expect(live.map((s) => [s.phase, s.start, s.end, s.open])).toEqual([
      ['firmware', 0, 700, false],
      ['kernel', 700, 900, true],
    ]);
    expect(phaseSegments([mark('load', 40)], { now: 50 })).toEqual([{ phase: 'firmware', start: 0, end: 50, open: true }]);
    expect(phaseSegments([])).toEqual([]);
  });
  it('adds the app segment of a distro that starts its app by hand', () => {
    const twin = [...BOOT.slice(0, 4), mark('ready', 1900)];
    expect(phaseSegments(twin, { withApp: true }).at(-1)).toEqual({ phase: 'app', start: 1300, end: 1900, instructions: 600_000, open: false });
    expect(phaseSegments(BOOT.slice(0, 4), { withApp: true, now: 1500 }).at(-1)).toMatchObject({ phase: 'app', open: true, end: 1500 });
  });
  it('draws nothing for a machine restored from a saved state', () => {
    expect(phaseSegments([mark('load', 10), mark('restored', 120)], { now: 300 })).toEqual([]);
  });
});

describe('timeToReady and loadTime', () => {
  it('read the ready and load marks', () => {
    expect(timeToReady(BOOT)).toEqual({ at: 1300, instructions: 1_300_000 });
    expect(timeToReady(BOOT.slice(0, 2))).toBeUndefined();
    expect(loadTime(BOOT)).toBe(40);
  });
});
