// The Inspect view's surface table: an image's attack surface (manifest `surface`, images/surface.ts)
// as rows, one column per image, so an appliance and its twin read side by side.

import type { Surface } from '../../../images/manifest.ts';

export interface SurfaceCell {
  count: number;
  /** What was counted, when the manifest lists it (paths, accounts, sockets). */
  items: string[];
  /** Said instead of, or beside, the count (e.g. no network stack). */
  note?: string;
}

export interface SurfaceRow {
  key: 'setuid' | 'setgid' | 'accounts' | 'sockets' | 'executables' | 'libraries';
  label: string;
  /** What the row counts, in a sentence (the row's tooltip). */
  about: string;
  /** One cell per image, undefined where the image's manifest does not say. */
  cells: (SurfaceCell | undefined)[];
}

const list = (items: string[]): SurfaceCell => ({ count: items.length, items });

/** Rows of the surface table for the given images (in column order); undefined surfaces give empty cells. */
export function surfaceRows(surfaces: readonly (Surface | undefined)[]): SurfaceRow[] {
  const cells = (f: (s: Surface) => SurfaceCell | undefined) => surfaces.map((s) => (s ? f(s) : undefined));
  return [
    { key: 'setuid', label: 'setuid files', about: 'Programs that run as their owner (usually root) whoever starts them.', cells: cells((s) => list(s.setuid)) },
    { key: 'setgid', label: 'setgid files', about: 'Programs that run with their group (e.g. shadow) whoever starts them.', cells: cells((s) => list(s.setgid)) },
    {
      key: 'accounts',
      label: 'accounts with a login shell',
      about: 'Entries of /etc/passwd whose shell is a program in the image (not nologin or false).',
      // An account whose shell the image lacks is listed but not counted: it cannot log in there.
      cells: cells((s) => ({
        count: s.loginAccounts.filter((a) => !a.shellMissing).length,
        items: s.loginAccounts.map((a) => `${a.name} (uid ${a.uid}, ${a.shell}${a.shellMissing ? ': not in the image' : ''})`),
      })),
    },
    {
      key: 'sockets',
      label: 'listening sockets',
      about: 'TCP sockets in LISTEN, bound UDP sockets and listening or named unix sockets, read from /proc/net in the running guest.',
      cells: cells((s) => {
        if (!s.sockets) return undefined;
        const c = list(s.sockets.listening.map((l) => `${l.proto} ${l.local}${l.type ? ` (${l.type})` : ''}`));
        return s.sockets.network ? { ...c, note: s.sockets.measured } : { ...c, note: `no network stack in the kernel; ${s.sockets.measured}` };
      }),
    },
    { key: 'executables', label: 'executables', about: 'ELF programs and #! scripts with an execute bit (libraries not counted).', cells: cells((s) => ({ count: s.executables, items: [] })) },
    { key: 'libraries', label: 'shared libraries', about: 'ELF shared objects (*.so*, dlopen modules) and the dynamic loader.', cells: cells((s) => ({ count: s.sharedLibraries, items: [] })) },
  ];
}
