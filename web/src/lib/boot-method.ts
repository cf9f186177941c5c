// How an image boots and what it is made of, in words for a card: what applies to its kind (an
// imported ISO has a format and a boot path, not packages).

import type { Manifest } from '../../../images/manifest.ts';

/** The boot path: direct kernel entry, or SeaBIOS and what it boots from. */
export function bootMethod(m: Manifest): string {
  const has = (role: string) => m.artifacts.some((a) => a.role === role);
  if (has('vmlinux')) return has('initrd') ? 'direct kernel entry (vmlinux + initramfs, no firmware)' : 'direct kernel entry (vmlinux, no firmware)';
  if (has('cdrom')) return 'SeaBIOS, then the CD (El Torito)';
  if (has('disk') && !has('kernel')) return "SeaBIOS, then the disk's boot sector";
  if (has('kernel')) return has('initrd') ? 'SeaBIOS, then bzImage + initrd' : 'SeaBIOS, then bzImage';
  return 'unknown';
}

/** What an import was recognised as ("ISO 9660 CD image"), from its manifest's description. */
export function importFormat(m: Manifest): string {
  return m.description?.replace(/^Imported: /, '') ?? 'imported files';
}
