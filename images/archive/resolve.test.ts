import { describe, expect, it } from 'vitest';
import { ArchiveError } from './errors.ts';
import { PackageIndex, binaryPackage } from './packages.ts';
import { resolve } from './resolve.ts';
import { sha256Hex } from '../hash.ts';

/** A Packages stanza with made-up pool data. */
function stanza(name: string, version: string, fields: Record<string, string> = {}): string {
  const all: Record<string, string> = {
    Package: name,
    Version: version,
    Architecture: 'i386',
    Priority: 'optional',
    ...fields,
    Description: `${name} synopsis\n long text`,
    Filename: `pool/main/${name[0]}/${name}/${name}_${version}_i386.deb`,
    Size: String(1000 + name.length),
    SHA256: sha256Hex(`${name} ${version}`),
  };
  return Object.entries(all)
    .map(([k, v]) => `${k}: ${v.replace(/\n/g, '\n ')}\n`)
    .join('');
}

const index = (...stanzas: string[]) => PackageIndex.fromText(stanzas.join('\n'));
const names = (r: ReturnType<typeof resolve>) => r.packages.map((p) => `${p.name}=${p.version}`);

function errorOf(f: () => unknown): ArchiveError {
  try {
    f();
  } catch (e) {
    if (e instanceof ArchiveError) return e;
    throw e;
  }
  throw new Error('expected an ArchiveError');
}

describe('PackageIndex', () => {
  const idx = index(
    stanza('foo', '1.0-1', { Provides: 'virt, vv (= 2.0)' }),
    stanza('foo', '1.2-1', { Provides: 'virt' }),
    stanza('foo', '1.10-1', { 'Installed-Size': '42', Essential: 'yes' }),
    stanza('bar', '1', { Depends: 'foo' }),
  );

  it('keeps versions newest first and looks them up', () => {
    expect(idx.size).toBe(2);
    expect(idx.names()).toEqual(['bar', 'foo']);
    expect(idx.versions('foo').map((p) => p.version)).toEqual(['1.10-1', '1.2-1', '1.0-1']);
    expect(idx.get('foo')?.version).toBe('1.10-1');
    expect(idx.get('foo', '1.2-1')?.version).toBe('1.2-1');
    expect(idx.get('foo', '9')).toBeUndefined();
    expect(idx.get('nope')).toBeUndefined();
    expect(idx.has('bar')).toBe(true);
  });

  it('types the fields the builder needs', () => {
    const foo = idx.get('foo')!;
    expect(foo).toMatchObject({ name: 'foo', architecture: 'i386', installedSize: 42, essential: true, description: 'foo synopsis' });
    expect(foo.filename).toBe('pool/main/f/foo/foo_1.10-1_i386.deb');
    expect(foo.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('indexes Provides, versioned or not', () => {
    expect(idx.providers('virt').map((p) => `${p.package.name} ${p.package.version} ${p.version ?? '-'}`)).toEqual(['foo 1.2-1 -', 'foo 1.0-1 -']);
    expect(idx.providers('vv').map((p) => p.version)).toEqual(['2.0']);
    expect(idx.providers('none')).toEqual([]);
  });

  it('refuses a stanza without the fields a download needs', () => {
    expect(() => binaryPackage({ Package: 'x', Version: '1', Architecture: 'i386', Filename: 'p', Size: '1' })).toThrow(/lacks SHA256/);
    expect(() => index('Version: 1\n').size).toThrow(/without Package/);
  });
});

describe('resolve', () => {
  it('follows Pre-Depends and Depends, output sorted by name with each package\'s chain', () => {
    const idx = index(
      stanza('app', '1', { 'Pre-Depends': 'libpre', Depends: 'libz (>= 1), libc' }),
      stanza('libz', '1.2', { Depends: 'libc' }),
      stanza('libc', '2.36'),
      stanza('libpre', '1'),
      stanza('unrelated', '1'),
    );
    const r = resolve(idx, ['app']);
    expect(names(r)).toEqual(['app=1', 'libc=2.36', 'libpre=1', 'libz=1.2']);
    expect(r.packages.find((p) => p.name === 'libz')?.chain).toEqual(['app', 'libz']);
    expect(r.packages.find((p) => p.name === 'libc')?.dependents).toEqual(['app', 'libz']);
    expect(r.dropped).toEqual([]);
    expect(r.roots).toEqual(['app']);
  });

  it('takes the first satisfiable alternative', () => {
    const idx = index(
      stanza('app', '1', { Depends: 'missing | old (>= 2) | good | other' }),
      stanza('old', '1'),
      stanza('good', '1'),
      stanza('other', '1'),
    );
    expect(names(resolve(idx, ['app']))).toEqual(['app=1', 'good=1']);
  });

  it('prefers an alternative already in the closure (roots first)', () => {
    const idx = index(stanza('app', '1', { Depends: 'first | second' }), stanza('first', '1'), stanza('second', '1'));
    expect(names(resolve(idx, ['app', 'second']))).toEqual(['app=1', 'second=1']);
    expect(names(resolve(idx, ['second', 'app']))).toEqual(['app=1', 'second=1']);
  });

  it('resolves virtual packages through Provides, ranking providers by Priority then name', () => {
    const idx = index(
      stanza('app', '1', { Depends: 'awk' }),
      stanza('original-awk', '1', { Provides: 'awk', Priority: 'optional' }),
      stanza('mawk', '1', { Provides: 'awk', Priority: 'required' }),
      stanza('gawk', '1', { Provides: 'awk', Priority: 'optional' }),
    );
    expect(names(resolve(idx, ['app']))).toEqual(['app=1', 'mawk=1']);
    // A provider already in the closure satisfies it.
    expect(names(resolve(idx, ['gawk', 'app']))).toEqual(['app=1', 'gawk=1']);
  });

  it('prefers the real package of a name over providers of it', () => {
    const idx = index(stanza('app', '1', { Depends: 'foo' }), stanza('foo', '1'), stanza('afoo', '1', { Provides: 'foo', Priority: 'required' }));
    expect(names(resolve(idx, ['app']))).toEqual(['app=1', 'foo=1']);
  });

  it('satisfies a versioned dependency only with a versioned Provides that meets it', () => {
    const idx = index(
      stanza('app', '1', { Depends: 'libvirt (>= 2)' }),
      stanza('unversioned', '9', { Provides: 'libvirt', Priority: 'required' }),
      stanza('too-old', '1', { Provides: 'libvirt (= 1.5)', Priority: 'required' }),
      stanza('right', '1', { Provides: 'libvirt (= 2.1)' }),
    );
    expect(names(resolve(idx, ['app']))).toEqual(['app=1', 'right=1']);
    // Unversioned dependencies accept any provider.
    const idx2 = index(stanza('app', '1', { Depends: 'libvirt' }), stanza('unversioned', '9', { Provides: 'libvirt' }));
    expect(names(resolve(idx2, ['app']))).toEqual(['app=1', 'unversioned=9']);
  });

  it('applies every version relation, choosing the newest version that fits', () => {
    const idx = index(
      stanza('lib', '1.0'),
      stanza('lib', '2.0'),
      stanza('lib', '3.0~rc1'),
      stanza('a', '1', { Depends: 'lib (<< 2.0)' }),
      stanza('b', '1', { Depends: 'lib (<= 2.0)' }),
      stanza('c', '1', { Depends: 'lib (= 1.0)' }),
      stanza('d', '1', { Depends: 'lib (>= 2.0)' }),
      stanza('e', '1', { Depends: 'lib (>> 2.0)' }),
      stanza('f', '1', { Depends: 'lib' }),
    );
    const version = (root: string) => resolve(idx, [root]).packages.find((p) => p.name === 'lib')!.version;
    expect(['a', 'b', 'c', 'd', 'e', 'f'].map(version)).toEqual(['1.0', '2.0', '1.0', '3.0~rc1', '3.0~rc1', '3.0~rc1']);
  });

  it('honors root pins and names the versions there are', () => {
    const idx = index(stanza('lib', '1.0'), stanza('lib', '2.0'), stanza('app', '1', { Depends: 'lib (>= 1.0)' }));
    expect(names(resolve(idx, ['app', 'lib=1.0']))).toEqual(['app=1', 'lib=1.0']);
    const e = errorOf(() => resolve(idx, ['lib=1.5']));
    expect(e.message).toMatch(/lib=1\.5 is not in the archive/);
    expect(e.hint).toMatch(/2\.0, 1\.0/);
    expect(errorOf(() => resolve(idx, ['lib=1.0', 'lib=2.0'])).message).toMatch(/two versions of lib/);
  });

  it('fails naming the chain when a chosen version conflicts with a later relation', () => {
    const idx = index(
      stanza('lib', '1.0'),
      stanza('lib', '2.0'),
      stanza('app', '1', { Depends: 'mid' }),
      stanza('mid', '1', { Depends: 'lib (>= 2.0)' }),
    );
    const e = errorOf(() => resolve(idx, ['lib=1.0', 'app']));
    expect(e.message).toContain('"lib (>= 2.0)" (Depends of mid 1), needed by app → mid');
    expect(e.message).toContain('lib 1.0 is already chosen');
  });

  it('fails naming the chain to a dependency nothing satisfies', () => {
    const idx = index(stanza('app', '1', { Depends: 'mid' }), stanza('mid', '1', { Depends: 'ghost (>= 1) | phantom' }), stanza('ghost', '0.5'));
    const e = errorOf(() => resolve(idx, ['app']));
    expect(e.message).toContain('Cannot satisfy "ghost (>= 1) | phantom" (Depends of mid 1), needed by app → mid');
    expect(e.message).toContain('the archive has ghost 0.5');
    expect(e.message).toContain('no package is named or provides phantom');
    expect(e.hint).toBeTruthy();
  });

  it('drops and reports dependencies only excluded packages satisfy', () => {
    const idx = index(
      stanza('app', '1', { 'Pre-Depends': 'init-system-helpers (>= 1.54~)', Depends: 'adduser, dpkg (>= 1.15) | install-info, lib' }),
      stanza('lib', '1', { Depends: 'debconf (>= 0.5) | debconf-2.0' }),
      stanza('adduser', '3'),
      stanza('dpkg', '1.21'),
      stanza('install-info', '6'),
      stanza('init-system-helpers', '1.65'),
      stanza('debconf', '1.5', { Provides: 'debconf-2.0' }),
      stanza('cdebconf', '0.2', { Provides: 'debconf-2.0' }),
    );
    const r = resolve(idx, ['app'], { exclude: ['dpkg', 'install-info', 'adduser', 'init-system-helpers', 'debconf', 'debconf-2.0'] });
    expect(names(r)).toEqual(['app=1', 'lib=1']);
    expect(r.dropped).toEqual([
      { package: 'app', field: 'Depends', dependency: 'adduser', excluded: ['adduser'] },
      { package: 'app', field: 'Depends', dependency: 'dpkg (>= 1.15) | install-info', excluded: ['dpkg', 'install-info'] },
      { package: 'app', field: 'Pre-Depends', dependency: 'init-system-helpers (>= 1.54~)', excluded: ['init-system-helpers'] },
      { package: 'lib', field: 'Depends', dependency: 'debconf (>= 0.5) | debconf-2.0', excluded: ['debconf', 'debconf-2.0'] },
    ]);
    expect(r.exclude).toEqual(['adduser', 'debconf', 'debconf-2.0', 'dpkg', 'init-system-helpers', 'install-info']);
    // Excluding only debconf leaves another provider of debconf-2.0 to satisfy it.
    expect(names(resolve(idx, ['lib'], { exclude: ['debconf'] }))).toEqual(['cdebconf=0.2', 'lib=1']);
    expect(errorOf(() => resolve(idx, ['dpkg'], { exclude: ['dpkg'] })).message).toMatch(/both a root and excluded/);
  });

  it('terminates on dependency cycles', () => {
    const idx = index(stanza('a', '1', { Depends: 'b' }), stanza('b', '1', { Depends: 'c' }), stanza('c', '1', { 'Pre-Depends': 'a (>= 1)' }));
    expect(names(resolve(idx, ['a']))).toEqual(['a=1', 'b=1', 'c=1']);
  });

  it('ignores arch qualifiers', () => {
    const idx = index(stanza('app', '1', { Depends: 'python3:any (>= 3.11), libx:i386' }), stanza('python3', '3.11'), stanza('libx', '1'));
    expect(names(resolve(idx, ['app:i386']))).toEqual(['app=1', 'libx=1', 'python3=3.11']);
  });

  it('accepts a virtual root with one provider, and refuses one with several', () => {
    const idx = index(stanza('mawk', '1', { Provides: 'awk' }), stanza('gawk', '1', { Provides: 'awk' }), stanza('only', '1', { Provides: 'solo' }));
    expect(names(resolve(idx, ['solo']))).toEqual(['only=1']);
    const e = errorOf(() => resolve(idx, ['awk']));
    expect(e.message).toMatch(/virtual package provided by gawk, mawk/);
    expect(errorOf(() => resolve(idx, ['nothing'])).message).toMatch(/no package nothing/);
    expect(errorOf(() => resolve(idx, ['Bad Name'])).message).toMatch(/Bad package name/);
  });

  it('gives the same result whatever the order of the index', () => {
    const stanzas = [
      stanza('app', '1', { Depends: 'awk, lib (>= 1)' }),
      stanza('mawk', '1', { Provides: 'awk', Priority: 'required' }),
      stanza('gawk', '1', { Provides: 'awk', Priority: 'required' }),
      stanza('lib', '1'),
      stanza('lib', '2'),
    ];
    const forward = resolve(index(...stanzas), ['app']);
    const backward = resolve(index(...[...stanzas].reverse()), ['app']);
    expect(names(forward)).toEqual(['app=1', 'gawk=1', 'lib=2']);
    expect(backward).toEqual(forward);
  });
});
