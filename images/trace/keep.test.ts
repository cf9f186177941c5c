import { describe, expect, it } from 'vitest';
import { makeElf } from '../elf.testkit.ts';
import { BUILDER_OWNER, RootTree } from '../rootfs.ts';
import { keepTraced } from './keep.ts';

const text = (s: string) => new TextEncoder().encode(s);

/** A merged-/usr tree: /lib and /bin are links into /usr, libc is reached through its soname link. */
function wideTree(): RootTree {
  const t = new RootTree();
  const file = (path: string, data: Uint8Array, owner = 'pkg') => t.add({ path, type: 'file', mode: 0o755, data, owner });
  const link = (path: string, linkTarget: string, owner = 'pkg') => t.add({ path, type: 'symlink', mode: 0o777, linkTarget, owner });
  link('lib', 'usr/lib');
  link('bin', 'usr/bin');
  file('usr/lib/ld-linux.so.2', makeElf({ soname: 'ld-linux.so.2' }), 'libc6');
  file('usr/lib/i386-linux-gnu/libc.so.6', makeElf({ soname: 'libc.so.6' }), 'libc6');
  file('usr/lib/i386-linux-gnu/libruby.so.3.1.2', makeElf({ soname: 'libruby.so.3.1', needed: ['libc.so.6'] }), 'libruby');
  link('usr/lib/i386-linux-gnu/libruby.so.3.1', 'libruby.so.3.1.2', 'libruby');
  file('usr/lib/i386-linux-gnu/libyaml.so.0', makeElf({ soname: 'libyaml.so.0', needed: ['libc.so.6'] }), 'libyaml');
  file('usr/lib/i386-linux-gnu/libgmp.so.10', makeElf({ soname: 'libgmp.so.10' }), 'libgmp');
  file('usr/bin/ruby3.1', makeElf({ interp: '/lib/ld-linux.so.2', needed: ['libruby.so.3.1', 'libc.so.6'] }), 'ruby3.1');
  link('usr/bin/irb', 'irb3.1', 'ruby');
  file('usr/bin/irb3.1', text('#!/usr/bin/ruby3.1\n'), 'ruby3.1');
  // dlopen'd by `require 'psych'`: no program lists it, only the trace sees it.
  file('usr/lib/i386-linux-gnu/ruby/3.1.0/psych.so', makeElf({ needed: ['libyaml.so.0'] }), 'libruby');
  file('usr/lib/ruby/3.1.0/csv.rb', text('# never loaded'), 'libruby');
  file('etc/lighttpd/lighttpd.conf', text('x'), 'lighttpd');
  file('init', text('#!/bin/sh\n'), BUILDER_OWNER);
  t.add({ path: 'proc', type: 'dir', mode: 0o755, owner: BUILDER_OWNER });
  return t;
}

describe('keepTraced', () => {
  const traced = new Map([
    ['bin', 'boot'],
    ['usr/bin/irb', 'smoke 1'],
    ['usr/bin/irb3.1', 'smoke 1'],
    ['usr/lib/i386-linux-gnu/ruby/3.1.0/psych.so', 'smoke 2'],
    ['var/log/created-at-run-time.log', 'boot'],
  ]);

  it('keeps traced paths, the ELF closure through soname links, parents and init; drops the rest as not touched', () => {
    const tree = wideTree();
    const d = keepTraced(tree, traced, { keep: [], protect: new Set(['proc']) });
    const reason = (p: string) => d.reasons.get(p);
    expect(reason('usr/bin/irb3.1')).toEqual({ kind: 'traced', step: 'smoke 1' });
    expect(reason('usr/lib/i386-linux-gnu/ruby/3.1.0/psych.so')).toEqual({ kind: 'traced', step: 'smoke 2' });
    // A kept script's #! interpreter stays, as an ELF's PT_INTERP does.
    expect(reason('usr/bin/ruby3.1')).toEqual({ kind: 'needed-by', elf: '/usr/bin/irb3.1' });
    expect(reason('usr/lib/i386-linux-gnu/libyaml.so.0')).toEqual({ kind: 'needed-by', elf: '/usr/lib/i386-linux-gnu/ruby/3.1.0/psych.so' });
    // libc found through the /lib link: both the link and the library are kept.
    expect(reason('lib')).toEqual({ kind: 'needed-by', elf: '/usr/lib/i386-linux-gnu/ruby/3.1.0/psych.so' });
    expect(reason('usr/lib/i386-linux-gnu/libc.so.6')?.kind).toBe('needed-by');
    expect(reason('usr/lib/i386-linux-gnu/ruby/3.1.0')).toEqual({ kind: 'parent', of: 'usr/lib/i386-linux-gnu/ruby/3.1.0/psych.so' });
    expect(reason('init')).toEqual({ kind: 'init' });
    expect(reason('proc')).toEqual({ kind: 'init' });
    expect([...tree.entries.keys()]).not.toContain('usr/lib/ruby/3.1.0/csv.rb');
    expect(d.report.dropped.map((x) => [x.path, x.reason])).toEqual(
      expect.arrayContaining([
        ['usr/lib/ruby/3.1.0/csv.rb', 'not touched'],
        ['usr/lib/i386-linux-gnu/libgmp.so.10', 'not touched'],
        ['etc/lighttpd/lighttpd.conf', 'not touched'],
      ]),
    );
    expect(d.notInTree).toEqual(['var/log/created-at-run-time.log']);
  });

  it("keeps the #! interpreter of kept scripts through the /bin link (/init's /bin/sh)", () => {
    const tree = wideTree();
    tree.add({ path: 'usr/bin/dash', type: 'file', mode: 0o755, data: makeElf({ interp: '/lib/ld-linux.so.2', needed: ['libc.so.6'] }), owner: 'dash' });
    tree.add({ path: 'usr/bin/sh', type: 'symlink', mode: 0o777, linkTarget: 'dash', owner: 'dash' });
    const d = keepTraced(tree, new Map(), { keep: [] });
    expect(d.reasons.get('bin')).toEqual({ kind: 'needed-by', elf: '/init' });
    expect(d.reasons.get('usr/bin/sh')).toEqual({ kind: 'needed-by', elf: '/init' });
    expect(d.reasons.get('usr/bin/dash')).toEqual({ kind: 'needed-by', elf: '/init' });
    expect(d.reasons.get('usr/lib/i386-linux-gnu/libc.so.6')).toEqual({ kind: 'needed-by', elf: '/usr/bin/dash' });
  });

  it('follows symlink chains to their target and keeps every link on the way', () => {
    const tree = wideTree();
    const d = keepTraced(tree, new Map([['usr/bin/ruby3.1', 'boot']]), { keep: [] });
    // ruby3.1 needs libruby.so.3.1 → libruby.so.3.1.2, which needs libc.so.6.
    expect(d.reasons.get('usr/lib/i386-linux-gnu/libruby.so.3.1')).toEqual({ kind: 'needed-by', elf: '/usr/bin/ruby3.1' });
    expect(d.reasons.get('usr/lib/i386-linux-gnu/libruby.so.3.1.2')).toEqual({ kind: 'needed-by', elf: '/usr/bin/ruby3.1' });
    expect(d.reasons.get('usr/lib/ld-linux.so.2')).toEqual({ kind: 'needed-by', elf: '/usr/bin/ruby3.1' });
    expect(tree.resolve('usr/bin/irb')).toBeUndefined();
    // A traced link keeps what it names.
    const t2 = wideTree();
    const d2 = keepTraced(t2, new Map([['usr/bin/irb', 'boot']]), { keep: [] });
    expect(d2.reasons.get('usr/bin/irb3.1')).toEqual({ kind: 'link', of: 'usr/bin/irb' });
  });

  it("keeps the recipe's keep globs with the glob as the reason", () => {
    const tree = wideTree();
    const d = keepTraced(tree, new Map(), { keep: ['etc/lighttpd/**'] });
    expect(d.reasons.get('etc/lighttpd/lighttpd.conf')).toEqual({ kind: 'keep', glob: 'etc/lighttpd/**' });
    expect(d.reasons.get('etc')).toEqual({ kind: 'parent', of: 'etc/lighttpd' });
  });
});
