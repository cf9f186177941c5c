// The TCP ports an image serves on its network card, from the sockets the builder saw listening
// (manifest surface): what the web page panel offers to open. Loopback-only listeners are not reachable.

import type { Manifest } from '../../../images/manifest.ts';

/** Ports listening on every address (or a non-loopback one), smallest first; HTTP's 80 and 8080 lead. */
export function servedPorts(manifest: Pick<Manifest, 'surface'> | undefined): number[] {
  const ports = new Set<number>();
  for (const s of manifest?.surface?.sockets?.listening ?? []) {
    if (s.proto !== 'tcp' && s.proto !== 'tcp6') continue;
    const m = /^(.*):(\d+)$/.exec(s.local);
    if (!m) continue;
    const host = m[1].replace(/^\[|\]$/g, '');
    if (host.startsWith('127.') || host === '::1') continue;
    ports.add(Number(m[2]));
  }
  const rank = (p: number) => (p === 80 ? 0 : p === 8080 ? 1 : 2);
  return [...ports].sort((a, b) => rank(a) - rank(b) || a - b);
}
