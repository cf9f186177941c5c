import { describe, expect, it } from 'vitest';
import { MARK_PREFIX, parseStatTime, parseWalk, touchedPaths, WALK_BEGIN, WALK_END } from './record.ts';

const EPOCH = '2026-07-11 10:16:37.000000000 +0000';
const t = (s: string) => `2026-12-01 16:00:${s} +0000`;

/** A walk as the guest prints it: noise before, lines between the markers, a prompt after. */
function walk(lines: string[]): string {
  return `~ # sh /walk\r\n${WALK_BEGIN}\r\n${lines.join('\r\n')}\r\n${WALK_END}\r\n~ # `;
}

describe('parseStatTime', () => {
  it('reads busybox stat %x with nanoseconds and a zone', () => {
    expect(parseStatTime('1970-01-01 00:00:01.000002999 +0000')).toBe(1_000_002);
    expect(parseStatTime('1970-01-01 01:00:01.5 +0100')).toBe(1_500_000);
    expect(() => parseStatTime('yesterday')).toThrow(/not a stat time/);
  });
});

describe('trace recorder', () => {
  const output = walk([
    `${t('01.000000000')}|${t('01.000000000')}|regular empty file|${MARK_PREFIX}01-smoke-1`,
    `${t('05.000000000')}|${t('05.000000000')}|regular empty file|${MARK_PREFIX}02-smoke-2`,
    `${t('09.000000000')}|${t('09.000000000')}|regular empty file|${MARK_PREFIX}03-walk`,
    `${t('00.500000000')}|${EPOCH}|regular file|/usr/bin/irb`,
    `${t('02.000000000')}|${EPOCH}|regular file|/usr/lib/ruby/3.1.0/json.rb`,
    `${t('06.250000000')}|${EPOCH}|regular file|/usr/lib/i386-linux-gnu/ruby/3.1.0/json/ext/parser.so`,
    `${EPOCH}|${EPOCH}|regular file|/usr/lib/ruby/3.1.0/csv.rb`,
    `${t('09.100000000')}|${EPOCH}|directory|/usr/lib/ruby`,
    `${t('00.400000000')}|${EPOCH}|symbolic link|/bin`,
    `${t('03.000000000')}|${EPOCH}|regular file|/etc/odd|name`,
    // A log directory lighttpd only stat()s, then creates error.log in: its mtime moved, its atime not.
    `${EPOCH}|${t('00.700000000')}|directory|/var/log/lighttpd`,
    `${EPOCH}|${EPOCH}|directory|/var/cache/untouched`,
  ]);

  it('reads marks and entries between the markers', () => {
    const { entries, marks } = parseWalk(output);
    expect(marks.map((m) => m.step)).toEqual(['smoke 1', 'smoke 2', 'walk']);
    expect(entries.map((e) => e.path)).toContain('usr/bin/irb');
    expect(entries.find((e) => e.path === 'bin')?.type).toBe('symlink');
    expect(entries.find((e) => e.path === 'etc/odd|name')).toBeDefined();
  });

  it('names the first step that read or wrote each path; untouched and walk-only paths are left out', () => {
    const { entries, marks } = parseWalk(output);
    const touched = touchedPaths(entries, marks, Date.UTC(2026, 6, 11, 10, 16, 37) / 1000);
    expect(Object.fromEntries(touched)).toEqual({
      'var/log/lighttpd': 'boot',
      'usr/bin/irb': 'boot',
      bin: 'boot',
      'usr/lib/ruby/3.1.0/json.rb': 'smoke 1',
      'etc/odd|name': 'smoke 1',
      'usr/lib/i386-linux-gnu/ruby/3.1.0/json/ext/parser.so': 'smoke 2',
    });
  });

  it('refuses an incomplete walk', () => {
    expect(() => parseWalk(`${WALK_BEGIN}\n${t('01.0')}|${EPOCH}|regular file|/x\n`)).toThrow(/no complete walk/);
    expect(() => parseWalk(walk([`${t('01.0')}|${EPOCH}|regular file|/x`]))).toThrow(/no "walk" mark/);
    expect(() => parseWalk(walk(['garbage']))).toThrow(/bad walk line/);
  });
});
