import { describe, expect, it } from 'vitest';
import { nameFromFile } from './import-image.ts';

describe('nameFromFile', () => {
  it('makes a manifest name from a file name', () => {
    expect(nameFromFile('debian-12.7.0-i386-netinst.iso', new Set())).toBe('debian-12.7.0-i386-netinst');
    expect(nameFromFile('My Disk (copy).IMG', new Set())).toBe('my-disk-copy');
    expect(nameFromFile('???.iso', new Set())).toBe('imported');
  });
  it('never takes a name already used', () => {
    expect(nameFromFile('linux.iso', new Set(['linux', 'linux-2']))).toBe('linux-3');
  });
});
