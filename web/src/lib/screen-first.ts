// Which machines show their VGA screen as the main pane (and fold their serial console away): an
// imported CD or disk, whose firmware and boot loader draw on the screen, and an import booted
// through firmware that stays quiet on serial while its screen is on (a VGA-console kernel). The
// built-in images are serial-first: their kernels and apps talk on ttyS0.

import type { Manifest } from '../../../images/manifest.ts';

/** Quiet on serial this long (ms since the machine started) with the screen on: screen-first. */
export const QUIET_MS = 5000;

/** Screen-first from the start: an imported CD or disk boots through firmware and a boot loader that draw on VGA. */
export function screenFirstImage(m: Manifest): boolean {
  return m.kind === 'imported' && m.artifacts.some((a) => a.role === 'cdrom' || a.role === 'disk');
}

export interface SerialQuiet {
  running: boolean;
  /** Bytes the guest wrote on serial this boot. */
  serialBytes: number;
  /** The VGA BIOS set a screen mode (a direct kernel entry has none). */
  screenOn: boolean;
  /** Milliseconds since the machine started executing. */
  now: number;
}

/** An import (through firmware) that has drawn on the screen and said nothing on serial for QUIET_MS. */
export function quietOnSerial(m: Manifest, s: SerialQuiet): boolean {
  const direct = m.artifacts.some((a) => a.role === 'vmlinux');
  return m.kind === 'imported' && !direct && s.running && s.screenOn && s.serialBytes === 0 && s.now >= QUIET_MS;
}
