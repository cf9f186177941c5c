import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ArchiveError } from './errors.ts';
import { aptSources, debianMirror, parseDeb822Sources, parseOneLineSources } from './mirror.ts';
import { tempDir } from './testkit.ts';

async function aptDir(files: Record<string, string>): Promise<string> {
  const dir = await tempDir();
  await mkdir(join(dir, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

describe('debianMirror', () => {
  it('prefers DEBIAN_MIRROR and drops a trailing slash', () => {
    expect(debianMirror({ env: { DEBIAN_MIRROR: 'http://mirror.invalid/debian/' }, aptDir: '/nonexistent' })).toBe('http://mirror.invalid/debian');
  });

  it('rejects a DEBIAN_MIRROR that is not an http(s) URL', () => {
    expect(() => debianMirror({ env: { DEBIAN_MIRROR: 'mirror.invalid/debian' } })).toThrow(/DEBIAN_MIRROR/);
  });

  it('takes the first http(s) bookworm source from sources.list (one-line format)', async () => {
    const dir = await aptDir({
      'sources.list': [
        '# comment',
        'deb-src http://src.invalid/debian bookworm main',
        'deb cdrom:[Debian]/ bookworm main',
        'deb http://security.invalid/debian-security bookworm-security main',
        'deb [arch=i386 signed-by=/k.gpg] https://one.invalid/debian/ bookworm main contrib # trailing',
        'deb http://two.invalid/debian bookworm main',
      ].join('\n'),
    });
    expect(debianMirror({ env: {}, aptDir: dir })).toBe('https://one.invalid/debian');
  });

  it('reads deb822 .sources: skips disabled entries and -security/-updates suites', async () => {
    const dir = await aptDir({
      'sources.list.d/a.sources': [
        'Types: deb',
        'URIs: http://off.invalid/debian',
        'Suites: bookworm',
        'Enabled: no',
        '',
        'Types: deb',
        '# a comment inside',
        'URIs: http://security.invalid/debian-security',
        'Suites: bookworm-security',
        '',
        'Types: deb deb-src',
        'URIs: http://mirror.invalid/debian',
        'Suites: bookworm bookworm-updates',
        'Components: main',
        '',
      ].join('\n'),
      'sources.list.d/b.list.disabled': 'deb http://ignored.invalid/debian bookworm main\n',
    });
    expect(debianMirror({ env: {}, aptDir: dir })).toBe('http://mirror.invalid/debian');
    expect(aptSources(dir).map((s) => s.uris[0])).toEqual([
      'http://security.invalid/debian-security',
      'http://mirror.invalid/debian',
    ]);
  });

  it('reads sources.list before sources.list.d/, and that folder in name order', async () => {
    const dir = await aptDir({
      'sources.list.d/b.sources': 'Types: deb\nURIs: http://b.invalid/debian\nSuites: bookworm\n',
      'sources.list.d/a.list': 'deb http://a.invalid/debian bookworm main\n',
    });
    expect(debianMirror({ env: {}, aptDir: dir })).toBe('http://a.invalid/debian');
  });

  it('fails with a hint naming DEBIAN_MIRROR when nothing serves bookworm', async () => {
    const dir = await aptDir({ 'sources.list': 'deb http://old.invalid/debian bullseye main\n' });
    let error: unknown;
    try {
      debianMirror({ env: {}, aptDir: dir });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ArchiveError);
    expect((error as ArchiveError).message).toMatch(/DEBIAN_MIRROR is not set/);
    expect((error as ArchiveError).hint).toMatch(/DEBIAN_MIRROR=/);
  });
});

describe('source file parsers', () => {
  it('parse both formats', () => {
    expect(parseOneLineSources('deb [trusted=yes] http://x.invalid/d bookworm main non-free\n')).toEqual([
      { types: ['deb'], uris: ['http://x.invalid/d'], suites: ['bookworm'], components: ['main', 'non-free'], file: 'sources.list' },
    ]);
    expect(parseDeb822Sources('types: deb\nuris: http://x.invalid/d\nsuites: bookworm\n')[0].suites).toEqual(['bookworm']);
  });
});
