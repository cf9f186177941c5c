import { describe, expect, it } from 'vitest';
import { readElf } from './elf.ts';
import { busyboxApplets } from './busybox.ts';
import { initScript, inittab } from './init.ts';
import { parseRecipe } from './recipe.ts';
import { RootTree, trim } from './rootfs.ts';

/** A minimal 32-bit little-endian ELF with PT_LOAD, PT_INTERP and PT_DYNAMIC (DT_NEEDED, DT_SONAME). */
function makeElf(opts: { needed?: string[]; soname?: string; interp?: string }): Uint8Array {
  const strs = ['', ...(opts.needed ?? []), ...(opts.soname ? [opts.soname] : []), ...(opts.interp ? [opts.interp] : [])];
  const strtab: number[] = [];
  const offsetOf = new Map<string, number>();
  for (const s of strs) {
    offsetOf.set(s, strtab.length);
    strtab.push(...new TextEncoder().encode(s), 0);
  }
  const phnum = 3;
  const phoff = 52;
  const strOff = phoff + phnum * 32;
  const dyn: [number, number][] = [...(opts.needed ?? []).map((n) => [1, offsetOf.get(n)!] as [number, number])];
  if (opts.soname) dyn.push([14, offsetOf.get(opts.soname)!]);
  dyn.push([5, 0x1000 + strOff], [0, 0]);
  const dynOff = strOff + strtab.length + ((4 - (strtab.length % 4)) % 4);
  const size = dynOff + dyn.length * 8;
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  dv.setUint16(16, opts.interp ? 3 : 3, true);
  dv.setUint32(28, phoff, true);
  dv.setUint16(42, 32, true);
  dv.setUint16(44, phnum, true);
  const ph = (i: number, type: number, offset: number, vaddr: number, filesz: number) => {
    const p = phoff + i * 32;
    dv.setUint32(p, type, true);
    dv.setUint32(p + 4, offset, true);
    dv.setUint32(p + 8, vaddr, true);
    dv.setUint32(p + 16, filesz, true);
  };
  ph(0, 1, 0, 0x1000, size);
  ph(1, 2, dynOff, 0x1000 + dynOff, dyn.length * 8);
  if (opts.interp) ph(2, 3, strOff + offsetOf.get(opts.interp)!, 0, opts.interp.length + 1);
  b.set(strtab, strOff);
  dyn.forEach(([t, v], i) => {
    dv.setUint32(dynOff + i * 8, t, true);
    dv.setUint32(dynOff + i * 8 + 4, v, true);
  });
  return b;
}

describe('readElf', () => {
  it('reads interpreter, DT_NEEDED and DT_SONAME', () => {
    const info = readElf(makeElf({ needed: ['libc.so.6', 'libz.so.1'], interp: '/lib/ld-linux.so.2' }))!;
    expect(info.interpreter).toBe('/lib/ld-linux.so.2');
    expect(info.needed).toEqual(['libc.so.6', 'libz.so.1']);
    expect(readElf(makeElf({ soname: 'libz.so.1' }))!.soname).toBe('libz.so.1');
    expect(readElf(new TextEncoder().encode('#!/bin/sh\n'))).toBeUndefined();
  });
});

describe('busyboxApplets', () => {
  it('finds the sorted applet table and rejects other binaries', () => {
    const names = ['[', '[[', 'ash', 'cat', 'cp', 'echo', 'ls', 'mount', 'sh', 'sleep', 'true'];
    expect(busyboxApplets(new TextEncoder().encode(`junk\0${names.join('\0')}\0\0more`))).toEqual(names);
    expect(() => busyboxApplets(new TextEncoder().encode('not busybox'))).toThrow(/not found/);
  });
});

describe('trim', () => {
  function tree(): RootTree {
    const t = new RootTree();
    const add = (path: string, data: Uint8Array, owner = 'pkg') => t.add({ path, type: 'file', mode: 0o755, data, owner });
    add('usr/bin/app', makeElf({ needed: ['libused.so.1'], interp: '/lib/ld-linux.so.2' }));
    add('lib/i386-linux-gnu/ld-linux.so.2', makeElf({ soname: 'ld-linux.so.2' }));
    t.add({ path: 'lib/ld-linux.so.2', type: 'symlink', mode: 0o777, linkTarget: 'i386-linux-gnu/ld-linux.so.2', owner: 'libc6' });
    add('usr/lib/i386-linux-gnu/libused.so.1.2.3', makeElf({ soname: 'libused.so.1', needed: ['libdeep.so.2'] }));
    t.add({ path: 'usr/lib/i386-linux-gnu/libused.so.1', type: 'symlink', mode: 0o777, linkTarget: 'libused.so.1.2.3', owner: 'pkg' });
    add('usr/lib/i386-linux-gnu/libdeep.so.2', makeElf({ soname: 'libdeep.so.2' }));
    add('usr/lib/i386-linux-gnu/libunused.so.5', makeElf({ soname: 'libunused.so.5' }));
    t.add({ path: 'usr/lib/i386-linux-gnu/libunused.so', type: 'symlink', mode: 0o777, linkTarget: 'libunused.so.5', owner: 'pkg' });
    add('usr/lib/i386-linux-gnu/plugin/mod.so', makeElf({ soname: 'mod.so' }));
    add('usr/share/doc/pkg/copyright', new Uint8Array(10));
    add('usr/share/man/man1/app.1.gz', new Uint8Array(10));
    add('usr/share/app/data.txt', new Uint8Array(5));
    return t;
  }

  it('keeps programs and the libraries they need (transitively), drops the rest', () => {
    const t = tree();
    const report = trim(t, { drop: [], keep: [] });
    const left = [...t.entries.keys()];
    expect(left).toContain('usr/lib/i386-linux-gnu/libused.so.1.2.3');
    expect(left).toContain('usr/lib/i386-linux-gnu/libused.so.1');
    expect(left).toContain('usr/lib/i386-linux-gnu/libdeep.so.2');
    expect(left).toContain('lib/i386-linux-gnu/ld-linux.so.2');
    expect(left).toContain('usr/share/app/data.txt');
    expect(left).not.toContain('usr/lib/i386-linux-gnu/libunused.so.5');
    expect(left).not.toContain('usr/lib/i386-linux-gnu/libunused.so'); // dangling once its target went
    expect(left).not.toContain('usr/share/doc/pkg/copyright');
    expect(left.some((p) => p.startsWith('usr/share/man'))).toBe(false); // empty dirs go too
    expect(report.dropped.find((d) => d.path === 'usr/lib/i386-linux-gnu/libunused.so.5')?.reason).toBe('unused library');
  });

  it('honours the recipe: keep globs save dlopen plugins, drop globs remove app files', () => {
    const t = tree();
    trim(t, { drop: ['usr/share/app/**'], keep: ['usr/lib/*/plugin/*.so', 'usr/share/doc/pkg/copyright'] });
    expect(t.entries.has('usr/lib/i386-linux-gnu/plugin/mod.so')).toBe(true);
    expect(t.entries.has('usr/share/doc/pkg/copyright')).toBe(true);
    expect(t.entries.has('usr/share/app/data.txt')).toBe(false);
  });

  it('writes a sorted cpio whatever order files came in', () => {
    const a = tree();
    const b = new RootTree();
    for (const e of [...a.entries.values()].reverse()) b.add(e);
    expect(b.toCpio(1)).toEqual(a.toCpio(1));
  });
});

describe('recipes and init', () => {
  const base = parseRecipe(
    { title: 'T', description: 'D', app: 'sh', packages: ['busybox-static'], init: { console: 'sh', services: ['srv --flag'], loopback: true }, readyMarker: '# ' },
    'base',
  );

  it('fills defaults and validates', () => {
    expect(base.memoryMB).toBe(128);
    expect(base.kernel.kind).toBe('tailored');
    expect(parseRecipe({ ...base, memoryMB: 64 }, 'x').memoryMB).toBe(64);
    expect(() => parseRecipe({ ...base, memoryMB: 16 }, 'x')).toThrow(/memoryMB/);
    expect(() => parseRecipe({ title: 'T' }, 'x')).toThrow(/packages|description/);
    expect(() => parseRecipe({ ...base, kernel: { kind: 'other' } }, 'x')).toThrow(/kernel.kind/);
  });

  it('derives a recipe with extends, merging kernel settings', () => {
    const stock = parseRecipe({ kernel: { kind: 'stock' }, title: 'Stock' }, 'base-stock', base);
    expect(stock.kernel.kind).toBe('stock');
    expect(stock.packages).toEqual(['busybox-static']);
    expect(stock.title).toBe('Stock');
    expect(stock.extends).toBe('base');
  });

  it('writes an init that mounts, starts services, and keeps the console app running', () => {
    const s = initScript(base);
    expect(s.startsWith('#!/bin/sh\n')).toBe(true);
    expect(s).toContain('mount -t devtmpfs dev /dev');
    expect(s).toContain('ip link set lo up');
    expect(s).toContain('srv --flag &');
    expect(s.trimEnd().endsWith('exec /bin/busybox init')).toBe(true);
    expect(inittab(base)).toContain(`ttyS0::respawn:/bin/sh -c '. /etc/whittle/env; stty cols 80 rows 25 2>/dev/null; cd /root; exec sh'`);
  });
});
