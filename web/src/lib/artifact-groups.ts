// Groups an image's artifacts the way people talk about them: firmware, kernel, initramfs, disk.

import type { Artifact } from '../../../images/manifest.ts';

export type SizeGroup = 'firmware' | 'kernel' | 'initramfs' | 'disk' | 'cdrom';

export interface GroupSize {
  group: SizeGroup;
  /** Bytes to download and store. */
  stored: number;
  /** Bytes the guest sees. */
  raw: number;
}

const ORDER: SizeGroup[] = ['firmware', 'kernel', 'initramfs', 'disk', 'cdrom'];

export function groupOf(a: Pick<Artifact, 'role'>): SizeGroup {
  switch (a.role) {
    case 'bios':
    case 'vgabios':
      return 'firmware';
    case 'initrd':
      return 'initramfs';
    case 'vmlinux':
      return 'kernel';
    default:
      return a.role;
  }
}

/** Sizes per group, in a fixed order, leaving out empty groups. */
export function sizeGroups(artifacts: readonly Artifact[]): GroupSize[] {
  const by = new Map<SizeGroup, GroupSize>();
  for (const a of artifacts) {
    const g = groupOf(a);
    const s = by.get(g) ?? { group: g, stored: 0, raw: 0 };
    s.stored += a.compressedSize;
    s.raw += a.size;
    by.set(g, s);
  }
  return ORDER.flatMap((g) => by.get(g) ?? []);
}
