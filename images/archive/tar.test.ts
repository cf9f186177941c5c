import { describe, expect, it } from 'vitest';
import { normalizeArchivePath, readTar } from './tar.ts';
import { makeTar } from './testkit.ts';

/** A raw 512-byte ustar/GNU header, for what tar-stream's packer does not write (GNU long names). */
function rawHeader(name: string, type: string, size: number, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number) => h.write(s.slice(0, len), at, 'latin1');
  const oct = (n: number, len: number) => n.toString(8).padStart(len - 1, '0') + '\0';
  put(name, 0, 100);
  put(oct(0o644, 8), 100, 8);
  put(oct(0, 8), 108, 8);
  put(oct(0, 8), 116, 8);
  put(oct(size, 12), 124, 12);
  put(oct(1_700_000_000, 12), 136, 12);
  put(type, 156, 1);
  put(linkname, 157, 100);
  put('ustar  \0', 257, 8); // GNU magic + version
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

const block = (data: string) => {
  const b = Buffer.alloc(Math.ceil(data.length / 512) * 512);
  b.write(data, 'latin1');
  return b;
};

describe('readTar', () => {
  it('reads files, directories, symlinks and hard links with modes, owners and mtimes', async () => {
    const tar = await makeTar([
      { path: './', type: 'dir' },
      { path: './usr/', type: 'dir', mode: 0o755 },
      { path: './usr/bin/su', data: 'ELF', mode: 0o4755, uid: 0, gid: 0, mtime: 1_690_000_000 },
      { path: './usr/bin/chage', data: 'x', mode: 0o2755, uid: 0, gid: 42 },
      { path: './usr/bin/sh', type: 'symlink', linkTarget: 'dash' },
      { path: './usr/bin/sg', type: 'hardlink', linkTarget: './usr/bin/su' },
      { path: './tmp/', type: 'dir', mode: 0o1777 },
      { path: './empty', data: '' },
    ]);
    const entries = await readTar(tar);
    expect(entries.map(({ data, ...e }) => ({ ...e, data: data && Buffer.from(data).toString() }))).toEqual([
      { path: 'usr', type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1_700_000_000, data: undefined },
      { path: 'usr/bin/su', type: 'file', mode: 0o4755, uid: 0, gid: 0, size: 3, mtime: 1_690_000_000, data: 'ELF' },
      { path: 'usr/bin/chage', type: 'file', mode: 0o2755, uid: 0, gid: 42, size: 1, mtime: 1_700_000_000, data: 'x' },
      { path: 'usr/bin/sh', type: 'symlink', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1_700_000_000, linkTarget: 'dash', data: undefined },
      { path: 'usr/bin/sg', type: 'hardlink', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1_700_000_000, linkTarget: 'usr/bin/su', data: undefined },
      { path: 'tmp', type: 'dir', mode: 0o1777, uid: 0, gid: 0, size: 0, mtime: 1_700_000_000, data: undefined },
      { path: 'empty', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1_700_000_000, data: '' },
    ]);
  });

  it('reads pax headers (long names and link targets)', async () => {
    const long = `./usr/share/${'d'.repeat(120)}/${'f'.repeat(110)}.txt`;
    const target = `../${'t'.repeat(150)}`;
    const tar = await makeTar([
      { path: long, data: 'pax' },
      { path: './link', type: 'symlink', linkTarget: target },
    ]);
    expect(Buffer.from(tar).includes('PaxHeader')).toBe(true); // the fixture really uses pax
    const [file, link] = await readTar(tar);
    expect(file.path).toBe(long.slice(2));
    expect(Buffer.from(file.data!).toString()).toBe('pax');
    expect(link.linkTarget).toBe(target);
  });

  it('reads GNU long names and long link names', async () => {
    const longName = `usr/lib/${'n'.repeat(130)}`;
    const longLink = `usr/lib/${'l'.repeat(140)}`;
    const tar = Buffer.concat([
      rawHeader('././@LongLink', 'L', longName.length + 1),
      block(longName + '\0'),
      rawHeader(longName.slice(0, 100), '0', 5),
      block('hello'),
      rawHeader('././@LongLink', 'K', longLink.length + 1),
      block(longLink + '\0'),
      rawHeader('usr/lib/hard', '1', 0, longLink.slice(0, 100)),
      Buffer.alloc(1024),
    ]);
    const [file, hard] = await readTar(tar);
    expect(file).toMatchObject({ path: longName, type: 'file', size: 5 });
    expect(Buffer.from(file.data!).toString()).toBe('hello');
    expect(hard).toMatchObject({ path: 'usr/lib/hard', type: 'hardlink', linkTarget: longLink });
  });

  it('keeps only the data asked for, and can stop early', async () => {
    const tar = await makeTar([
      { path: './a', data: 'A' },
      { path: './b', data: 'B' },
      { path: './c', data: 'C' },
    ]);
    const some = await readTar(tar, { data: (p) => p === 'b' });
    expect(some.map((e) => e.data && Buffer.from(e.data).toString())).toEqual([undefined, 'B', undefined]);
    const early = await readTar(tar, { stopAfter: (e) => e.path === 'b' });
    expect(early.map((e) => e.path)).toEqual(['a', 'b']);
  });

  it('refuses entries that escape the root, device nodes, and garbage', async () => {
    await expect(readTar(await makeTar([{ path: '../etc/passwd', data: 'x' }]), { source: 'evil.tar' })).rejects.toThrow(/evil\.tar has an entry outside its root/);
    const fifo = Buffer.concat([rawHeader('dev/fifo', '6', 0), Buffer.alloc(1024)]);
    await expect(readTar(fifo)).rejects.toThrow(/fifo.*not supported/);
    await expect(readTar(Buffer.alloc(512, 0x41), { source: 'junk.tar' })).rejects.toThrow(/junk\.tar is not a readable tar/);
  });
});

describe('normalizeArchivePath', () => {
  it('drops ./, leading and trailing slashes and empty segments', () => {
    expect(normalizeArchivePath('./usr/bin/')).toBe('usr/bin');
    expect(normalizeArchivePath('/usr//lib/./x')).toBe('usr/lib/x');
    expect(normalizeArchivePath('./')).toBe('');
    expect(() => normalizeArchivePath('usr/../../x')).toThrow(/outside its root/);
  });
});
