import { describe, expect, it } from 'vitest';
import type { Artifact, Manifest } from '../../../images/manifest.ts';
import { QUIET_MS, quietOnSerial, screenFirstImage } from './screen-first.ts';

const art = (role: Artifact['role']): Artifact => ({ role, file: role, sha256: '0'.repeat(64), size: 1, compressedSize: 1, compression: 'none' });
const m = (kind: Manifest['kind'], roles: Artifact['role'][]): Manifest => ({ kind, artifacts: roles.map(art) }) as Manifest;
const quiet = { running: true, serialBytes: 0, screenOn: true, now: QUIET_MS };

describe('screenFirstImage', () => {
  it('is an imported CD or disk, never a built-in image', () => {
    expect(screenFirstImage(m('imported', ['bios', 'vgabios', 'cdrom']))).toBe(true);
    expect(screenFirstImage(m('imported', ['bios', 'vgabios', 'disk']))).toBe(true);
    expect(screenFirstImage(m('imported', ['bios', 'vgabios', 'kernel', 'initrd']))).toBe(false);
    expect(screenFirstImage(m('distro', ['bios', 'vgabios', 'kernel', 'initrd', 'disk']))).toBe(false);
  });
});

describe('quietOnSerial', () => {
  const bzImage = m('imported', ['bios', 'vgabios', 'kernel', 'initrd']);
  it('turns an import through firmware screen-first once it drew on the screen and stayed quiet on serial', () => {
    expect(quietOnSerial(bzImage, quiet)).toBe(true);
    expect(quietOnSerial(bzImage, { ...quiet, now: QUIET_MS - 1 })).toBe(false);
    expect(quietOnSerial(bzImage, { ...quiet, serialBytes: 1 })).toBe(false);
    expect(quietOnSerial(bzImage, { ...quiet, screenOn: false })).toBe(false);
    expect(quietOnSerial(bzImage, { ...quiet, running: false })).toBe(false);
  });
  it('leaves direct kernel entries and built-in images serial-first', () => {
    expect(quietOnSerial(m('imported', ['vmlinux', 'initrd']), quiet)).toBe(false);
    expect(quietOnSerial(m('appliance', ['bios', 'vgabios', 'kernel', 'initrd']), quiet)).toBe(false);
  });
});
