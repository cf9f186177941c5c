import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../images/manifest.ts';
import type { PhaseMark } from '../protocol.ts';
import { CliError, currentPhase, defaultApp, phaseDurations, probeStep, uniqueLabels, withApp } from './measure.ts';
import type { Target } from './measure.ts';

const mark = (phase: PhaseMark['phase'], at: number, instructions: number): PhaseMark => ({ phase, at, instructions });

function target(name: string, m: Partial<Manifest>): Target {
  const manifest = { name, kind: 'appliance', smoke: [], packages: [], fileCount: 0, artifacts: [], ...m } as unknown as Manifest;
  return { image: name, dir: `/x/${name}`, manifest, label: name };
}

const debian = target('debian', {
  kind: 'distro',
  apps: [
    { name: 'sqlite', command: 'sqlite3', readyMarker: 'sqlite> ', smoke: [{ send: 'select 1+1;', expect: '2' }] },
    { name: 'shell', command: 'busybox sh', readyMarker: '~ # ', smoke: [] },
  ],
});
const sqlite = target('sqlite', { app: 'sqlite', smoke: [{ send: 'select 6*7;', expect: '42' }] });

describe('phaseDurations', () => {
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
  it('leaves missing phases NaN and never goes negative', () => {
    const d = phaseDurations([mark('firmware', 300, 10), mark('kernel', 290, 9)]);
    expect(d.phases.kernel).toBe(0);
    expect(d.phases.userspace).toBeNaN();
    expect(d.readyMs).toBeNaN();
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

describe('apps', () => {
  it('starts the first appliance app on a distro by default', () => {
    expect(defaultApp([sqlite, debian])).toBe('sqlite');
    expect(defaultApp([debian])).toBeUndefined();
    expect(withApp(debian, 'sqlite')).toMatchObject({ app: 'sqlite', label: 'debian+sqlite' });
  });
  it('leaves appliances running their own app', () => {
    expect(withApp(sqlite, 'lua')).toMatchObject({ app: undefined, label: 'sqlite' });
  });
  it('refuses an app the distro cannot start, naming those it can', () => {
    expect(() => withApp(debian, 'redis')).toThrow(CliError);
    expect(() => withApp(debian, 'redis')).toThrow(/cannot start the app "redis"/);
  });
  it('numbers repeated labels', () => {
    expect(uniqueLabels([sqlite, sqlite, debian]).map((t) => t.label)).toEqual(['sqlite', 'sqlite #2', 'debian']);
  });
  it('probes a restored shell with echo and an app with its first smoke step', () => {
    expect(probeStep(target('shell', { app: 'shell' })).send).toMatch(/^echo /);
    expect(probeStep(sqlite)).toEqual({ send: 'select 6*7;', expect: '42' });
    expect(probeStep(withApp(debian, 'sqlite'))).toEqual({ send: 'select 1+1;', expect: '2' });
    expect(probeStep(withApp(debian, 'shell')).send).toMatch(/^echo /);
  });
});
