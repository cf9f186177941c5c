import { describe, expect, it } from 'vitest';
import { SHARE_LIMIT_BYTES, shareFullProblem, sharePathProblem } from './share-path.ts';

describe('sharePathProblem', () => {
  it('accepts plain names and folders', () => {
    for (const ok of ['x.csv', 'data/x.csv', 'a b.txt', 'ü.txt', '.hidden', '..x', 'x..', 'a'.repeat(255)]) expect(sharePathProblem(ok), ok).toBeUndefined();
  });

  it('says what is wrong with names that climb out, are absolute, empty or unlistable', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['..', /climb out/],
      ['../etc/passwd', /climb out/],
      ['data/../../x', /climb out/],
      ['./x', /"\."/],
      ['/etc/passwd', /starts with "\/"/],
      ['a//b', /empty name/],
      ['a/', /empty name/],
      ['x\ny', /control character/],
      ['x\0', /control character/],
      ['a'.repeat(256), /longer than 255 bytes/],
      // 128 two-byte characters: 256 bytes, though 128 characters.
      ['é'.repeat(128), /longer than 255 bytes/],
      [`${'a/'.repeat(600)}x`, /longer than 1024 characters/],
    ];
    for (const [path, why] of cases) expect(sharePathProblem(path), JSON.stringify(path)).toMatch(why);
  });
});

describe('shareFullProblem', () => {
  it('lets a file fill the share exactly, and refuses one byte more, saying what is in use', () => {
    expect(shareFullProblem('x', SHARE_LIMIT_BYTES, 0)).toBeUndefined();
    expect(shareFullProblem('x', SHARE_LIMIT_BYTES - 10, 10)).toBeUndefined();
    expect(shareFullProblem('x', SHARE_LIMIT_BYTES + 1, 0)).toMatch(/^x \(1\.07 GB\) does not fit in the host share: it holds 1\.07 GB at most$/);
    expect(shareFullProblem('x', 11, SHARE_LIMIT_BYTES - 10)).toMatch(/already in use/);
  });
});
