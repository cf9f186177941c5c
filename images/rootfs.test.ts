import { describe, expect, it } from 'vitest';
import { readElf } from './elf.ts';
import { busyboxApplets } from './busybox.ts';
import { parseRecipe } from './recipe.ts';
import { RootTree, trim } from './rootfs.ts';
import { makeElf } from './elf.testkit.ts';

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
    expect(() => parseRecipe({ ...base, memoryMB: 8 }, 'x')).toThrow(/memoryMB: must be 16..2048/);
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

});
