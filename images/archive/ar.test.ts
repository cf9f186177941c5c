import { describe, expect, it } from 'vitest';
import { readAr } from './ar.ts';
import { makeAr } from './testkit.ts';

const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

/** One raw ar header (60 bytes) for hand-made archives. */
function header(name: string, size: number): string {
  const f = (s: string, n: number) => s.padEnd(n, ' ');
  return f(name, 16) + f('0', 12) + f('0', 6) + f('0', 6) + f('644', 8) + f(String(size), 10) + '`\n';
}

describe('readAr', () => {
  it('reads members written as dpkg-deb writes them, with odd sizes padded', async () => {
    const ar = makeAr([
      { name: 'debian-binary', data: Buffer.from('2.0\n') },
      { name: 'odd', data: Buffer.from('abc') },
      { name: 'control.tar.xz', data: Buffer.from('xyz!') },
    ]);
    const members = await readAr(ar);
    expect(members.map((m) => [m.member.name, text(m.data)])).toEqual([
      ['debian-binary', '2.0\n'],
      ['odd', 'abc'],
      ['control.tar.xz', 'xyz!'],
    ]);
    expect(members[0].member).toMatchObject({ mtime: 1700000000, uid: 0, gid: 0, mode: 0o100644, size: 4 });
  });

  it('understands BSD (#1/len) and GNU (// table) long names', async () => {
    const longName = 'a-very-long-member-name.tar.xz';
    const table = `${longName}/\n`;
    const ar = Buffer.from(
      '!<arch>\n' +
        header('#1/20', 20 + 2) + 'bsd-long-name-here!!' + 'ok' +
        header('//', table.length) + table +
        header('/0', 3) + 'gnu' + '\n',
      'latin1',
    );
    const members = await readAr(ar);
    expect(members.map((m) => [m.member.name, text(m.data)])).toEqual([
      ['bsd-long-name-here!!', 'ok'],
      [longName, 'gnu'],
    ]);
  });

  it('refuses what is not an ar archive, or is cut short', async () => {
    await expect(readAr(Buffer.from('PK\x03\x04 not ar'), 'x.deb')).rejects.toThrow(/x\.deb is not an ar archive/);
    const ar = makeAr([{ name: 'data.tar', data: Buffer.alloc(100) }]);
    await expect(readAr(ar.subarray(0, ar.length - 10))).rejects.toThrow(/truncated/);
    const broken = Buffer.from(ar);
    broken[8 + 58] = 0x41; // header terminator
    await expect(readAr(broken)).rejects.toThrow(/corrupt member header/);
  });

  // Found by readers.fuzz.test.ts: each was returned as a member with a NaN or negative field.
  it('refuses a mode that is not octal and a BSD name longer than its member', async () => {
    const modeOf = (mode: string) => Buffer.from('!<arch>\n' + header('a/', 2).slice(0, 40) + mode.padEnd(8, ' ') + header('a/', 2).slice(48) + 'hi', 'latin1');
    await expect(readAr(modeOf('zz'), 'x.ar')).rejects.toThrow(/x\.ar: bad number "zz"/);
    await expect(readAr(modeOf('9'), 'x.ar')).rejects.toThrow(/x\.ar: bad number "9"/);
    await expect(readAr(Buffer.from('!<arch>\n' + header('#1/20', 6) + 'nameda', 'latin1'), 'x.ar')).rejects.toThrow(/x\.ar: bad BSD name length "20"/);
    await expect(readAr(Buffer.from('!<arch>\n' + header('#1/ab', 6) + 'nameda', 'latin1'), 'x.ar')).rejects.toThrow(/bad BSD name length "ab"/);
  });
});
