import { describe, expect, it } from 'vitest';
import { iterateParagraphs, parseParagraphs, shortDescription } from './control.ts';
import { formatGroup, parseDependencies } from './depends.ts';

describe('parseParagraphs (deb822)', () => {
  it('reads fields, multi-line fields and paragraph breaks', () => {
    const text = [
      'Package: foo',
      'Version: 1.0-1',
      'Description: the synopsis',
      ' Long text line one.',
      ' .',
      ' Line after a blank.',
      'Depends: libc6 (>= 2.34),',
      '  libbar1',
      '',
      '',
      'Package: bar',
      'Version: 2',
      'Empty:',
      '',
    ].join('\n');
    const ps = parseParagraphs(text);
    expect(ps).toHaveLength(2);
    expect(ps[0].Package).toBe('foo');
    expect(ps[0].Description).toBe('the synopsis\nLong text line one.\n.\nLine after a blank.');
    expect(ps[0].Depends).toBe('libc6 (>= 2.34),\n libbar1');
    expect(parseDependencies(ps[0].Depends).map(formatGroup)).toEqual(['libc6 (>= 2.34)', 'libbar1']);
    expect(ps[1]).toEqual({ Package: 'bar', Version: '2', Empty: '' });
    expect(shortDescription(ps[0].Description)).toBe('the synopsis');
  });

  it('reads a field whose value starts on the next line (Release SHA256 lists)', () => {
    const [p] = parseParagraphs('SHA256:\n abc 12 main/x\n def 34 main/y\nDate: now\n');
    expect(p.SHA256).toBe('abc 12 main/x\ndef 34 main/y');
    expect(p.Date).toBe('now');
  });

  it('treats whitespace-only lines as separators, CRLF as LF, and no final newline as fine', () => {
    expect(parseParagraphs('A: 1\r\n \t\r\nB: 2')).toEqual([{ A: '1' }, { B: '2' }]);
  });

  it('skips comments only when asked (apt .sources)', () => {
    expect(parseParagraphs('# note\nTypes: deb\n', { comments: true })).toEqual([{ Types: 'deb' }]);
    expect(() => parseParagraphs('# note\nTypes: deb\n')).toThrow(/line 1/);
  });

  it('names the line of a malformed entry', () => {
    expect(() => parseParagraphs('A: 1\nnot a field\n')).toThrow(/line 2/);
    expect(() => parseParagraphs(' continuation first\n')).toThrow(/continuation/);
  });

  it('iterates lazily', () => {
    const it = iterateParagraphs('A: 1\n\nA: 2\n');
    expect(it.next().value).toEqual({ A: '1' });
  });
});

describe('parseDependencies', () => {
  it('parses alternatives, relations, arch qualifiers and obsolete operators', () => {
    const groups = parseDependencies('a, b (>= 1.0) | c:any, d (<< 2~), e:i386 (= 1:3-1), f (< 4), g (> 5), h [i386] <!nocheck>');
    expect(groups).toEqual([
      [{ name: 'a' }],
      [{ name: 'b', relation: '>=', version: '1.0' }, { name: 'c', arch: 'any' }],
      [{ name: 'd', relation: '<<', version: '2~' }],
      [{ name: 'e', arch: 'i386', relation: '=', version: '1:3-1' }],
      [{ name: 'f', relation: '<=', version: '4' }],
      [{ name: 'g', relation: '>=', version: '5' }],
      [{ name: 'h' }],
    ]);
    expect(parseDependencies('')).toEqual([]);
    expect(parseDependencies(undefined)).toEqual([]);
  });

  it('rejects malformed entries', () => {
    expect(() => parseDependencies('a (>= )')).toThrow(/Malformed/);
    expect(() => parseDependencies('a (~ 1)')).toThrow(/Malformed/);
    expect(() => parseDependencies('a | , b')).toThrow(/Malformed/);
  });
});
