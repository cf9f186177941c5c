import { describe, expect, it } from 'vitest';
import { currentPhase, loadTime, phaseDurations, phaseSegments, timeToReady } from './phases.ts';
import type { PhaseMark } from './protocol.ts';

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

describe('phaseDurations (the CLI and bench)', () => {
  it('turns marks (each ends a phase) into durations and instruction counts', () => {
    const marks = [mark('load', 120, 0), mark('firmware', 200, 1e6), mark('kernel', 700, 20e6), mark('userspace', 900, 30e6), mark('ready', 1500, 50e6)];
    const d = phaseDurations(marks);
    expect(d.phases).toEqual({ firmware: 200, kernel: 500, userspace: 200, app: 600 });
    expect(d.phaseInstructions).toEqual({ firmware: 1e6, kernel: 19e6, userspace: 10e6, app: 20e6 });
    expect(d.readyMs).toBe(1500);
    expect(d.instructions).toBe(50e6);
  });
  it('gives an appliance (ready at its userspace mark) an app phase of zero', () => {
    const d = phaseDurations([mark('firmware', 100, 1), mark('kernel', 400, 2), mark('userspace', 600, 3), mark('ready', 600, 3)]);
    expect(d.phases.app).toBe(0);
    expect(d.readyMs).toBe(600);
  });
  it('leaves phases that have not ended NaN', () => {
    const d = phaseDurations([mark('firmware', 300, 10)]);
    expect(d.phases.kernel).toBeNaN();
    expect(d.readyMs).toBeNaN();
  });
});

describe('page and CLI agree on a boot whose CPU mark lands before the console mark before it', () => {
  // A quiet kernel: firmware ended by its first console line, kernel by the first user-mode code the
  // CPU watch saw a hair earlier. The page used to draw a kernel segment of -10 ms; the CLI said 0.
  const marks = [mark('load', 40), { ...mark('firmware', 300, 10_000), detectedBy: 'console' as const }, { ...mark('kernel', 290, 9_000), detectedBy: 'cpu' as const }, mark('userspace', 900), mark('ready', 900)];
  it('draws no segment backwards and starts the next at the later end', () => {
    expect(phaseSegments(marks).map((s) => [s.phase, s.start, s.end, s.instructions])).toEqual([
      ['firmware', 0, 300, 10_000],
      ['kernel', 300, 300, 0],
      ['userspace', 300, 900, 890_000],
    ]);
  });
  it('reports the same durations as the timeline draws', () => {
    const d = phaseDurations(marks);
    for (const s of phaseSegments(marks, { withApp: true })) expect(d.phases[s.phase]).toBe(s.end - s.start);
    expect(d.phases).toEqual({ firmware: 300, kernel: 0, userspace: 600, app: 0 });
  });
});

describe('currentPhase', () => {
  it('follows the marks', () => {
    expect(currentPhase([])).toBe('loading');
    expect(currentPhase([mark('load', 1, 0)])).toBe('firmware');
    expect(currentPhase([mark('load', 1, 0), mark('firmware', 2, 1), mark('kernel', 3, 2)])).toBe('userspace');
    expect(currentPhase([mark('userspace', 3, 2)])).toBe('app');
    expect(currentPhase([mark('userspace', 3, 2), mark('ready', 3, 2)])).toBe('ready');
  });
});
