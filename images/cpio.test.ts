import { describe, expect, it } from 'vitest';
import { readCpio, writeCpio, type CpioEntry } from './cpio.ts';

const entries: CpioEntry[] = [
  { path: 'bin', type: 'dir', mode: 0o755 },
  { path: 'bin/busybox', type: 'file', mode: 0o755, data: new TextEncoder().encode('#!fake') },
  { path: 'bin/sh', type: 'symlink', mode: 0o777, linkTarget: 'busybox' },
  { path: 'dev/console', type: 'char', mode: 0o600, rdev: { major: 5, minor: 1 } },
  { path: 'init', type: 'file', mode: 0o755, data: new Uint8Array([1, 2, 3]) },
];

describe('cpio newc writer', () => {
  it('round-trips entries with their types, modes and data', () => {
    const back = readCpio(writeCpio(entries, 1_700_000_000));
    expect(back.map((e) => [e.path, e.type, e.mode])).toEqual(entries.map((e) => [e.path, e.type, e.mode]));
    expect(back[1].data).toEqual(entries[1].data);
    expect(back[2].linkTarget).toBe('busybox');
    expect(back[3].rdev).toEqual({ major: 5, minor: 1 });
  });

  it('writes the newc magic, 4-byte alignment and a trailer', () => {
    const bytes = writeCpio(entries, 0);
    const text = new TextDecoder().decode(bytes);
    expect(text.startsWith('070701')).toBe(true);
    expect(text).toContain('TRAILER!!!');
    // every header starts 4-aligned: find each magic and check its offset
    let i = -1;
    while ((i = text.indexOf('070701', i + 1)) >= 0) expect(i % 4).toBe(0);
  });

  it('is deterministic and carries the clamped mtime', () => {
    const a = writeCpio(entries, 1234);
    expect(writeCpio(entries, 1234)).toEqual(a);
    const mtimeField = new TextDecoder().decode(a.subarray(6 + 5 * 8, 6 + 6 * 8));
    expect(parseInt(mtimeField, 16)).toBe(1234);
    expect(writeCpio(entries, 1235)).not.toEqual(a);
  });

  it('refuses absolute paths', () => {
    expect(() => writeCpio([{ path: '/etc', type: 'dir', mode: 0o755 }], 0)).toThrow(/bad path/);
  });

  // Found by cpio.fuzz.test.ts: a non-hex field came back as NaN; a sign or an overlong size was taken as given.
  it('refuses header fields that are not eight hex digits, and entries past the end', () => {
    const one = writeCpio([{ path: 'a', type: 'file', mode: 0o644, data: new Uint8Array([1, 2, 3]) }], 0);
    const withField = (i: number, text: string) => {
      const b = one.slice();
      b.set(new TextEncoder().encode(text), 6 + i * 8);
      return b;
    };
    expect(() => readCpio(withField(2, 'zzzzzzzz'))).toThrow(/cpio: bad header field "zzzzzzzz" at 0/);
    expect(() => readCpio(withField(6, '-0000001'))).toThrow(/cpio: bad header field "-0000001"/);
    expect(() => readCpio(withField(6, '0000ffff'))).toThrow(/cpio: truncated entry "a" at 0/);
    expect(() => readCpio(withField(11, '00000000'))).toThrow(/cpio: empty name/);
  });
});

