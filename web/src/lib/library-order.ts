// The library's order, so it starts somewhere: appliances smallest first, then the rungs (appliances
// booted through SeaBIOS, the steps between an appliance and the twin), the full-distribution twin
// last; imports in their own section. Plus the search and kind filter over it.

import { downloadSize, type Manifest } from '../../../images/manifest.ts';

export type Section = 'appliance' | 'rung' | 'twin' | 'imported';

export const SECTIONS: { id: Section; title: string; about: string }[] = [
  { id: 'appliance', title: 'Appliances', about: 'a tailored kernel entered directly, busybox and one app' },
  { id: 'rung', title: 'Rungs', about: 'the shell appliance booted the slower ways: through firmware, with the stock kernel' },
  { id: 'twin', title: 'The twin', about: 'full Debian, installed as Debian installs it' },
  { id: 'imported', title: 'Imported here', about: 'your own ISOs, disks and kernels, stored in this browser' },
];

/** Which section an image belongs to: an appliance that boots through SeaBIOS is a rung. */
export function sectionOf(m: Manifest): Section {
  if (m.kind === 'distro') return 'twin';
  if (m.kind === 'imported') return 'imported';
  return m.artifacts.some((a) => a.role === 'bios') ? 'rung' : 'appliance';
}

/** Images grouped by section (in SECTIONS order, empty sections left out), smallest download first. */
export function librarySections<T extends { manifest: Manifest }>(entries: readonly T[], filter: { text?: string; section?: Section | '' } = {}): { section: (typeof SECTIONS)[number]; entries: T[] }[] {
  const q = filter.text?.trim().toLowerCase() ?? '';
  const matches = (m: Manifest) => !q || [m.name, m.title, m.description ?? '', m.app ?? ''].some((s) => s.toLowerCase().includes(q));
  return SECTIONS.filter((s) => !filter.section || s.id === filter.section)
    .map((section) => ({
      section,
      entries: entries.filter((e) => sectionOf(e.manifest) === section.id && matches(e.manifest)).sort((a, b) => downloadSize(a.manifest) - downloadSize(b.manifest) || a.manifest.name.localeCompare(b.manifest.name)),
    }))
    .filter((g) => g.entries.length > 0);
}
