import { describe, expect, it } from 'vitest';
import type { Artifact, Manifest } from '../../../images/manifest.ts';
import { bootMethod, importFormat } from './boot-method.ts';

const art = (role: Artifact['role']): Artifact => ({ role, file: role, sha256: '0'.repeat(64), size: 1, compressedSize: 1, compression: 'none' });
const m = (roles: Artifact['role'][], description?: string): Manifest => ({ artifacts: roles.map(art), ...(description ? { description } : {}) }) as Manifest;

describe('bootMethod', () => {
  it('names the boot path for each kind of image', () => {
    expect(bootMethod(m(['vmlinux', 'initrd']))).toMatch(/^direct kernel entry/);
    expect(bootMethod(m(['bios', 'vgabios', 'cdrom']))).toBe('SeaBIOS, then the CD (El Torito)');
    expect(bootMethod(m(['bios', 'vgabios', 'disk']))).toMatch(/boot sector/);
    expect(bootMethod(m(['bios', 'vgabios', 'kernel', 'initrd', 'disk']))).toBe('SeaBIOS, then bzImage + initrd');
    expect(importFormat(m(['cdrom'], 'Imported: ISO 9660 CD image'))).toBe('ISO 9660 CD image');
  });
});
