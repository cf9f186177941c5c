import { describe, expect, it } from 'vitest';
import type { PackageShare } from '../../../images/manifest.ts';
import { diffFiles, diffKernelConfig, diffPackages, parseKernelConfig } from './image-diff.ts';

const pkg = (name: string, size: number, version = '1.0'): PackageShare => ({ name, version, size, share: 0, files: 1 });

describe('diffPackages', () => {
  it('splits into dropped, kept and added, largest first', () => {
    const d = diffPackages([pkg('busybox', 900), pkg('sqlite3', 1500, '3.40'), pkg('whittle-init', 2)], [pkg('systemd', 15000), pkg('sqlite3', 1600, '3.40.1'), pkg('busybox', 900), pkg('libc6', 12000)]);
    expect(d.dropped.map((p) => p.name)).toEqual(['systemd', 'libc6']);
    expect(d.droppedBytes).toBe(27000);
    expect(d.kept).toEqual([
      { ...pkg('sqlite3', 1500, '3.40'), twinSize: 1600, twinVersion: '3.40.1' },
      { ...pkg('busybox', 900), twinSize: 900 },
    ]);
    expect(d.added.map((p) => p.name)).toEqual(['whittle-init']);
  });
});

describe('kernel config', () => {
  it('reads set options and ignores unset ones and comments', () => {
    const c = parseKernelConfig('# comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x y"\nCONFIG_D=n\n');
    expect([...c]).toEqual([
      ['CONFIG_A', 'y'],
      ['CONFIG_C', '"x y"'],
    ]);
  });
  it('lists what the appliance kernel dropped, added and changed', () => {
    const d = diffKernelConfig('CONFIG_TTY=y\nCONFIG_SERIAL_8250=y\nCONFIG_LZ4=y\n', 'CONFIG_TTY=y\nCONFIG_SERIAL_8250=m\nCONFIG_ATA=m\nCONFIG_DRM=m\n');
    expect(d.dropped).toEqual([
      { option: 'CONFIG_ATA', value: 'm' },
      { option: 'CONFIG_DRM', value: 'm' },
    ]);
    expect(d.added).toEqual([{ option: 'CONFIG_LZ4', value: 'y' }]);
    expect(d.changed).toEqual([{ option: 'CONFIG_SERIAL_8250', value: 'y', twinValue: 'm' }]);
    expect(d.counts).toEqual({ appliance: 3, twin: 4 });
  });
});

describe('diffFiles', () => {
  it('lists what only the twin has, largest first', () => {
    const f = (path: string, size = 1, owner = 'x') => ({ path, size, owner });
    const d = diffFiles([f('/bin/sh'), f('/init')], [f('/bin/sh'), f('/usr/lib/libsystemd.so', 900, 'systemd'), f('/etc/fstab', 20, 'base-files')]);
    expect(d.dropped.map((x) => x.path)).toEqual(['/usr/lib/libsystemd.so', '/etc/fstab']);
    expect(d.droppedBytes).toBe(920);
    expect(d.shared).toBe(1);
  });
});
