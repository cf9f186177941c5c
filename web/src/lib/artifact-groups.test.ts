import { describe, expect, it } from 'vitest';
import type { Artifact } from '../../../images/manifest.ts';
import { sizeGroups } from './artifact-groups.ts';

const a = (role: Artifact['role'], size: number, compressedSize = size): Artifact => ({
  role,
  file: role,
  sha256: '0'.repeat(64),
  size,
  compressedSize,
  compression: compressedSize === size ? 'none' : 'zstd',
});

describe('sizeGroups', () => {
  it('adds bios and vgabios up as firmware, in a fixed order', () => {
    expect(sizeGroups([a('initrd', 2000, 900), a('kernel', 800), a('vgabios', 30), a('bios', 100)])).toEqual([
      { group: 'firmware', stored: 130, raw: 130 },
      { group: 'kernel', stored: 800, raw: 800 },
      { group: 'initramfs', stored: 900, raw: 2000 },
    ]);
  });
});
