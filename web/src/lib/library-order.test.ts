import { describe, expect, it } from 'vitest';
import type { Artifact, Manifest } from '../../../images/manifest.ts';
import { lastBootTime, recordBootTime } from './boot-times.ts';
import { librarySections } from './library-order.ts';

const art = (role: Artifact['role'], size: number): Artifact => ({ role, file: role, sha256: '0'.repeat(64), size, compressedSize: size, compression: 'none' });
const img = (name: string, kind: Manifest['kind'], roles: Artifact['role'][], size: number) => ({ manifest: { name, title: name, kind, artifacts: roles.map((r) => art(r, size)) } as Manifest });

const all = [
  img('debian', 'distro', ['bios', 'vgabios', 'kernel', 'initrd', 'disk'], 500),
  img('redis', 'appliance', ['vmlinux', 'initrd'], 20),
  img('my-iso', 'imported', ['bios', 'vgabios', 'cdrom'], 5),
  img('shell-stock', 'appliance', ['bios', 'vgabios', 'kernel', 'initrd'], 4),
  img('shell', 'appliance', ['vmlinux', 'initrd'], 2),
  img('lua', 'appliance', ['vmlinux', 'initrd'], 3),
];

describe('librarySections', () => {
  it('puts appliances first, smallest first, then rungs, the twin last, imports apart', () => {
    const s = librarySections(all);
    expect(s.map((g) => [g.section.id, g.entries.map((e) => e.manifest.name)])).toEqual([
      ['appliance', ['shell', 'lua', 'redis']],
      ['rung', ['shell-stock']],
      ['twin', ['debian']],
      ['imported', ['my-iso']],
    ]);
  });

  it('filters by text and by section', () => {
    expect(librarySections(all, { text: 'SHELL' }).flatMap((g) => g.entries.map((e) => e.manifest.name))).toEqual(['shell', 'shell-stock']);
    expect(librarySections(all, { section: 'twin' }).map((g) => g.section.id)).toEqual(['twin']);
    expect(librarySections(all, { text: 'nothing like it' })).toEqual([]);
  });
});

describe('boot times', () => {
  it('keeps the last boot time per image and survives unreadable storage', () => {
    const m = new Map<string, string>();
    const storage = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
    expect(lastBootTime('shell', storage)).toBeUndefined();
    recordBootTime('shell', 2100, storage, 1);
    recordBootTime('lua', 2500, storage, 2);
    recordBootTime('shell', 1900, storage, 3);
    expect(lastBootTime('shell', storage)).toEqual({ ms: 1900, at: 3 });
    m.set('whittle.boot-times', '{not json');
    expect(lastBootTime('shell', storage)).toBeUndefined();
  });
});
