import { describe, expect, it } from 'vitest';
import { ArchiveError } from './errors.ts';
import { diffLocks, formatLock, formatLockDiff, lockFromResolution, lockHash, parseLock, samePackages, type Lock } from './lock.ts';
import type { Resolution, ResolvedPackage } from './resolve.ts';

const sha = (c: string) => c.repeat(64);

function resolved(name: string, version: string, c: string): ResolvedPackage {
  return {
    name,
    version,
    architecture: 'i386',
    filename: `pool/main/${name[0]}/${name}/${name}_${version}_i386.deb`,
    size: 100,
    sha256: sha(c),
    installedSize: 1,
    essential: false,
    priority: 'optional',
    section: 'libs',
    source: name,
    description: name,
    chain: [name],
    dependents: [],
  };
}

const resolution: Resolution = {
  roots: ['sqlite3'],
  exclude: ['dpkg', 'debconf'],
  packages: [resolved('sqlite3', '3.40.1-2', 'a'), resolved('libc6', '2.36-9', 'b')],
  dropped: [],
};
const archive = { suite: 'bookworm', arch: 'i386', date: 'Sat, 11 Jul 2026 10:16:37 UTC' };

describe('lock files', () => {
  it('write stable, pretty JSON with keys in order and packages by name', () => {
    const text = formatLock(lockFromResolution(resolution, archive));
    expect(text.endsWith('}\n')).toBe(true);
    const parsed = JSON.parse(text);
    expect(Object.keys(parsed)).toEqual(['suite', 'arch', 'date', 'roots', 'exclude', 'packages']);
    expect(Object.keys(parsed.packages[0])).toEqual(['name', 'version', 'arch', 'filename', 'size', 'sha256']);
    expect(parsed.packages.map((p: { name: string }) => p.name)).toEqual(['libc6', 'sqlite3']);
    expect(parsed.exclude).toEqual(['debconf', 'dpkg']);
    expect(text).toContain('\n  "suite": "bookworm",\n');
  });

  it('round-trip through parseLock', () => {
    const lock = lockFromResolution(resolution, archive);
    expect(parseLock(formatLock(lock))).toEqual(lock);
    expect(formatLock(parseLock(formatLock(lock)))).toBe(formatLock(lock));
  });

  it('hash the content, not the formatting', () => {
    const lock = lockFromResolution(resolution, archive);
    const reordered: Lock = { ...lock, packages: [...lock.packages].reverse() };
    expect(lockHash(reordered)).toBe(lockHash(lock));
    expect(lockHash(parseLock(JSON.stringify(lock)))).toBe(lockHash(lock));
    expect(lockHash(lock)).toMatch(/^[0-9a-f]{64}$/);
    const changed: Lock = { ...lock, packages: lock.packages.map((p) => (p.name === 'libc6' ? { ...p, version: '2.36-10' } : p)) };
    expect(lockHash(changed)).not.toBe(lockHash(lock));
  });

  it('refuse malformed lock files with a hint naming the file', () => {
    const bad = (text: string) => {
      try {
        parseLock(text, 'recipes/x.lock.json');
      } catch (e) {
        expect(e).toBeInstanceOf(ArchiveError);
        expect((e as ArchiveError).hint).toContain('recipes/x.lock.json');
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    const good = JSON.parse(formatLock(lockFromResolution(resolution, archive)));
    expect(bad('{')).toMatch(/not valid JSON/);
    expect(bad('[]')).toMatch(/JSON object/);
    expect(bad(JSON.stringify({ ...good, suite: 1 }))).toMatch(/suite: must be a string/);
    expect(bad(JSON.stringify({ ...good, packages: [{ ...good.packages[0], sha256: 'XYZ' }] }))).toMatch(/sha256/);
    expect(bad(JSON.stringify({ ...good, packages: [{ ...good.packages[0], size: -1 }] }))).toMatch(/size/);
    expect(bad(JSON.stringify({ ...good, packages: [good.packages[0], good.packages[0]] }))).toMatch(/twice/);
  });
});

describe('diffLocks', () => {
  const before = lockFromResolution(resolution, archive);

  it('is empty for the same lock', () => {
    const d = diffLocks(before, parseLock(formatLock(before)));
    expect(d).toEqual({ added: [], removed: [], changed: [], fields: [] });
    expect(samePackages(d)).toBe(true);
    expect(formatLockDiff(d)).toBe('');
  });

  it('names added, removed and changed packages with versions', () => {
    const after = lockFromResolution(
      {
        ...resolution,
        roots: ['sqlite3', 'zlib1g'],
        packages: [resolved('sqlite3', '3.40.1-2', 'c'), resolved('libc6', '2.36-10', 'd'), resolved('zlib1g', '1:1.2.13', 'e')],
      },
      { ...archive, date: 'Sat, 10 Oct 2026 10:00:00 UTC' },
    );
    const d = diffLocks(before, after);
    expect(d.added).toEqual([{ name: 'zlib1g', version: '1:1.2.13' }]);
    expect(d.removed).toEqual([]);
    expect(d.changed).toEqual([
      { name: 'libc6', from: '2.36-9', to: '2.36-10', what: ['version', 'filename', 'sha256'] },
      { name: 'sqlite3', from: '3.40.1-2', to: '3.40.1-2', what: ['sha256'] },
    ]);
    expect(d.fields.map((f) => f.field)).toEqual(['date', 'roots']);
    expect(samePackages(d)).toBe(false);
    expect(formatLockDiff(d).split('\n')).toEqual([
      'date: "Sat, 11 Jul 2026 10:16:37 UTC" → "Sat, 10 Oct 2026 10:00:00 UTC"',
      'roots: ["sqlite3"] → ["sqlite3","zlib1g"]',
      'added: zlib1g 1:1.2.13',
      'changed: libc6 2.36-9 → 2.36-10',
      'changed: sqlite3 3.40.1-2 (sha256 differ)',
    ]);
    expect(diffLocks(after, before).removed).toEqual([{ name: 'zlib1g', version: '1:1.2.13' }]);
  });
});
