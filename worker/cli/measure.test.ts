import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../images/manifest.ts';
import { MachineFailure, WaitTimedOut } from '../errors.ts';
import { bootFailure, CliError, defaultApp, probeStep, uniqueLabels, withApp } from './measure.ts';
import type { Target } from './measure.ts';

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

describe('bootFailure', () => {
  it('tells a time limit that ran out by its class or code, not by its words', () => {
    const waited = bootFailure(sqlite, 'sqlite> ', new WaitTimedOut('Timed out after 5000 ms waiting for the ready marker.'));
    expect(waited).toMatchObject({ code: 'timed-out', hint: expect.stringContaining('--timeout') });
    expect(waited.message).toBe('sqlite: the boot timed out: Timed out after 5000 ms waiting for the ready marker.');
    expect(waited.detail).toBe('last serial output:\nsqlite> ');
    const loading = bootFailure(sqlite, '', new CliError('sqlite: loading took longer than 5 s', undefined, { code: 'timed-out' }));
    expect(loading).toMatchObject({ code: 'timed-out', detail: undefined });
  });
  it('keeps the hint of any other failure, even one whose message mentions time', () => {
    const halted = new MachineFailure('guest-unresponsive', 'The guest CPU halted with interrupts disabled; it timed out no wait, and ran longer than expected.', 'Reset the machine (or stop it).');
    expect(bootFailure(sqlite, '', halted)).toMatchObject({ code: 'failed', hint: 'Reset the machine (or stop it).', message: expect.stringContaining('the boot failed') });
    expect(bootFailure(sqlite, '', new Error('Timed out reading the disk'))).toMatchObject({ code: 'failed', hint: 'Check the image: npm run images -- build sqlite' });
  });
});
