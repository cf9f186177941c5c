import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { compareVersions, parseVersion, satisfiesRelation } from './version.ts';

const cmp = (a: string, b: string) => Math.sign(compareVersions(a, b));

describe('parseVersion', () => {
  it('splits epoch, upstream and revision', () => {
    expect(parseVersion('1.0')).toEqual({ epoch: 0, upstream: '1.0', revision: '' });
    expect(parseVersion('2:1.0-3')).toEqual({ epoch: 2, upstream: '1.0', revision: '3' });
    // The revision is after the last hyphen; hyphens and (with an epoch) colons may be in the upstream part.
    expect(parseVersion('1.0-beta-1')).toEqual({ epoch: 0, upstream: '1.0-beta', revision: '1' });
    expect(parseVersion('1:2:3-1')).toEqual({ epoch: 1, upstream: '2:3', revision: '1' });
    expect(parseVersion('5:7.0.15-1~deb12u7')).toEqual({ epoch: 5, upstream: '7.0.15', revision: '1~deb12u7' });
  });

  it('rejects what dpkg rejects', () => {
    for (const bad of ['', ' ', '1 0', 'x:1.0', ':1.0', '1:', '1.0-', 'a1.0', '1.0_1', '1.0-a_b']) {
      expect(() => parseVersion(bad), bad).toThrow();
    }
  });
});

describe('compareVersions (Debian Policy §5.6.12)', () => {
  it.each([
    ['1.0', '1.0', 0],
    ['0:1.0', '1.0', 0], // an absent epoch is 0
    ['1.0-0', '1.0', 0], // revision "0" compares equal to an absent one, as in dpkg
    ['1.01', '1.1', 0], // leading zeros do not count
    ['1.000', '1.0', 0],
    ['1.0', '1.1', -1],
    ['1.9', '1.10', -1], // numeric, not lexical
    ['1.0', '1.0.1', -1],
    ['1.0', '1.0-1', -1],
    ['1.0-1', '1.0-2', -1],
    ['1.0-1', '1.0-1.1', -1],
    ['1.0-9', '1.0-10', -1],
    ['1:0.1', '2.0', 1], // epoch wins
    ['1:1.0', '2:0.1', -1],
    ['1.0~rc1', '1.0', -1], // tilde sorts before the end of the string
    ['1.0~rc1', '1.0~rc2', -1],
    ['1.0~~', '1.0~~a', -1], // Policy's example: ~~ < ~~a < ~ < (end) < a
    ['1.0~~a', '1.0~', -1],
    ['1.0~', '1.0', -1],
    ['1.0', '1.0a', -1],
    ['1.0a', '1.0b', -1],
    ['1.0A', '1.0a', -1], // letters compare by ASCII
    ['1.0z', '1.0+', -1], // letters sort before non-letters
    ['1.0+', '1.0.', -1], // '+' (43) before '.' (46)
    ['1.0.', '1.0-1', 1],
    ['1.0a', '1.0.', -1],
    ['1.0+b1', '1.0', 1], // binNMU
    ['2.36-9+deb12u9', '2.36-9+deb12u14', -1],
    ['5:7.0.15-1~deb12u6', '5:7.0.15-1~deb12u7', -1],
    ['5:7.0.15-1~deb12u7', '5:7.0.15-1', -1], // stable update before the unstable upload
    ['1:1.2.13.dfsg-1', '1:1.2.13-1', 1],
    ['1.2.3+dfsg-1', '1.2.3-1', 1],
    ['6.1.170-3', '6.1.176-1', -1],
    ['3.40.1-2+deb12u2', '3.40.1-2+deb12u10', -1],
    ['0.9', '1', -1],
    ['10', '9', 1],
    ['1.2a3', '1.2a10', -1],
    ['1.2a', '1.2.0', -1],
  ])('%s vs %s → %i', (a, b, expected) => {
    expect(cmp(a, b)).toBe(expected);
    expect(cmp(b, a)).toBe(-expected || 0);
  });

  it('sorts a list as dpkg does', () => {
    const sorted = ['1.0', '1.0~rc1', '1:0.5', '1.0-1', '1.0+b1', '1.0~~', '0.9', '1.0a', '1.0-1~bpo1'].sort(compareVersions);
    expect(sorted).toEqual(['0.9', '1.0~~', '1.0~rc1', '1.0', '1.0-1~bpo1', '1.0-1', '1.0a', '1.0+b1', '1:0.5']);
  });
});

describe('satisfiesRelation', () => {
  it.each([
    ['1.0', '<<', '1.1', true],
    ['1.1', '<<', '1.1', false],
    ['1.1', '<=', '1.1', true],
    ['1.2', '<=', '1.1', false],
    ['1.1', '=', '1.1', true],
    ['1:1.1', '=', '1.1', false],
    ['1.1-0', '=', '1.1', true],
    ['1.1', '>=', '1.1', true],
    ['1.0', '>=', '1.1', false],
    ['1.2', '>>', '1.1', true],
    ['1.1', '>>', '1.1', false],
    ['1.54~', '>=', '1.54~', true],
    ['1.54', '>=', '1.54~', true],
    ['1.53', '>=', '1.54~', false],
  ] as const)('%s %s %s → %s', (v, rel, ref, expected) => {
    expect(satisfiesRelation(v, rel, ref)).toBe(expected);
  });
});

// Where dpkg is installed, random versions must order exactly as `dpkg --compare-versions` orders them.
const hasDpkg = spawnSync('dpkg', ['--version']).status === 0;

describe.skipIf(!hasDpkg)('compareVersions agrees with dpkg', () => {
  it('on random versions', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const part = (chars: string, max: number) => Array.from({ length: 1 + rand(max) }, () => chars[rand(chars.length)]).join('');
    const version = () => {
      const epoch = rand(4) === 0 ? `${rand(3)}:` : '';
      const upstream = `${rand(10)}${part('0123456789.~+ab', 5)}`;
      const revision = rand(2) ? `-${part('0123456789.~+b', 4)}` : '';
      return `${epoch}${upstream}${revision}`;
    };
    const pairs = Array.from({ length: 120 }, () => [version(), version()] as const);
    for (const [a, b] of pairs) {
      const dpkg = (op: string) => spawnSync('dpkg', ['--compare-versions', a, op, b]).status === 0;
      const expected = dpkg('lt') ? -1 : dpkg('eq') ? 0 : 1;
      expect(Math.sign(compareVersions(a, b)), `${a} vs ${b}`).toBe(expected);
    }
  });
});
