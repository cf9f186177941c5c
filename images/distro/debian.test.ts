// Unit tests for the twin builder's pure parts: apt pins, dpkg status, mmdebstrap arguments, dumpe2fs.

import { describe, expect, test } from 'vitest';
import { TWIN, aptPinPreferences, diskSizeFor, mmdebstrapArgs, parseDpkgStatus, usedInodes } from './debian.ts';

describe('aptPinPreferences', () => {
  test('one stanza per package, sorted, exact version at priority 1001', () => {
    expect(aptPinPreferences({ sqlite3: '3.40.1-2+deb12u2', busybox: '1:1.35.0-4+deb12u1+b1' })).toBe(
      'Package: busybox\nPin: version 1:1.35.0-4+deb12u1+b1\nPin-Priority: 1001\n\n' +
        'Package: sqlite3\nPin: version 3.40.1-2+deb12u2\nPin-Priority: 1001\n',
    );
  });
});

describe('mmdebstrapArgs', () => {
  const pins = { sqlite3: '3.40.1-2+deb12u2', 'lua5.4': '5.4.4-3+deb12u1', libc6: '2.36-9+deb12u13' };
  test('roots are included with their pinned versions, other pins only through preferences', () => {
    const args = mmdebstrapArgs({ mirror: 'http://mirror.invalid/debian', pins }, '/tmp/x');
    const include = args.find((a) => a.startsWith('--include='))!;
    expect(include).toContain('sqlite3=3.40.1-2+deb12u2');
    expect(include).toContain('lua5.4=5.4.4-3+deb12u1');
    expect(include).toContain(',linux-image-686,');
    expect(include).not.toContain('libc6');
    expect(args.slice(-3)).toEqual(['bookworm', '/tmp/x', 'deb http://mirror.invalid/debian bookworm main']);
    expect(args).toContain('--arch=i386');
    expect(args).toContain('--variant=minbase');
  });
  test('never fetches seabios: the twin boots the appliances\' locked SeaBIOS, from the pipeline\'s firmware stage', () => {
    const args = mmdebstrapArgs({ mirror: 'http://m.invalid/debian', pins: { ...pins, seabios: '1.16.2-1' } }, '/t');
    expect(args.some((a) => a.includes('seabios'))).toBe(false);
  });
});

describe('parseDpkgStatus', () => {
  test('reads name, version, arch, status and size; sorted by name', () => {
    const text =
      'Package: zlib1g\nStatus: install ok installed\nPriority: optional\nInstalled-Size: 170\nArchitecture: i386\nMulti-Arch: same\nVersion: 1:1.2.13.dfsg-1\nDescription: compression library\n continued line\n\n' +
      'Package: base-files\nEssential: yes\nStatus: install ok half-configured\nInstalled-Size: 340\nArchitecture: i386\nVersion: 12.4+deb12u11\n';
    expect(parseDpkgStatus(text)).toEqual([
      { name: 'base-files', version: '12.4+deb12u11', arch: 'i386', status: 'install ok half-configured', installedSizeKiB: 340 },
      { name: 'zlib1g', version: '1:1.2.13.dfsg-1', arch: 'i386', status: 'install ok installed', installedSizeKiB: 170 },
    ]);
  });
});

describe('usedInodes', () => {
  test('the root, then every inode from 11 on that no group lists as free', () => {
    const dump = [
      'Inode count:              24',
      'Inodes per group:         8',
      'Group 0: (Blocks 0-32767) csum 0x4756',
      '  Free inodes: 14-16',
      'Group 1: (Blocks 32768-65535)',
      '  Free inodes: 17, 19-24',
      'Group 2: (Blocks 65536-98303)',
      '  Free inodes: ',
    ].join('\n');
    expect(usedInodes(dump)).toEqual([2, 11, 12, 13, 18]);
  });
});

describe('diskSizeFor', () => {
  test('leaves the free room on top of the tree, whole MiB', () => {
    const size = diskSizeFor({ blocks: 100_000 }, TWIN.freeBytes);
    expect(size % (1 << 20)).toBe(0);
    expect(size).toBeGreaterThan(100_000 * 4096 + TWIN.freeBytes);
    expect(size).toBeLessThan(100_000 * 4096 + TWIN.freeBytes + (48 << 20));
  });
});
