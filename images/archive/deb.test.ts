import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDeb, readDebControl, readDebMember } from './deb.ts';
import { ArchiveError } from './errors.ts';
import { makeAr, makeDeb, makeTar, tempDir, type Compression } from './testkit.ts';

const control = { Package: 'hello', Version: '2.10-3', Architecture: 'i386', Description: 'greets\n the world' };
const files = [
  { path: './usr/', type: 'dir' as const },
  { path: './usr/bin/', type: 'dir' as const },
  { path: './usr/bin/hello', data: 'ELF-hello', mode: 0o755 },
  { path: './usr/bin/hi', type: 'symlink' as const, linkTarget: 'hello' },
  { path: './usr/share/doc/hello/copyright', data: 'GPL' },
];

async function debFile(data: Uint8Array): Promise<string> {
  const path = join(await tempDir(), 'pkg.deb');
  await writeFile(path, data);
  return path;
}

describe('readDeb', () => {
  it.each(['xz', 'zst', 'gz', 'none'] as Compression[])('reads control and data (%s)', async (compression) => {
    const path = await debFile(await makeDeb({ control, files, compression, controlFiles: { postinst: '#!/bin/sh\n' } }));
    const deb = await readDeb(path);
    expect(deb.control).toEqual({ Package: 'hello', Version: '2.10-3', Architecture: 'i386', Description: 'greets\nthe world' });
    expect(Object.keys(deb.controlFiles).sort()).toEqual(['control', 'postinst']);
    expect(deb.files.map((f) => `${f.type} ${f.path} ${f.mode.toString(8)}${f.linkTarget ? ` -> ${f.linkTarget}` : ''}`)).toEqual([
      'dir usr 755',
      'dir usr/bin 755',
      'file usr/bin/hello 755',
      'symlink usr/bin/hi 644 -> hello',
      'file usr/share/doc/hello/copyright 644',
    ]);
    expect(Buffer.from(deb.files[2].data!).toString()).toBe('ELF-hello');
    expect(await readDebControl(path)).toEqual(deb.control);
  });

  it('refuses a file that is not a .deb, naming it', async () => {
    const notAr = await debFile(Buffer.from('hello'));
    await expect(readDeb(notAr)).rejects.toThrow(ArchiveError);
    await expect(readDeb(notAr)).rejects.toThrow(`${notAr} is not a .deb`);
    const noData = await debFile(makeAr([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'control.tar', data: Buffer.alloc(1024) }]));
    await expect(readDeb(noData)).rejects.toThrow(/no control\.tar or data\.tar/);
    const v3 = await debFile(makeAr([{ name: 'debian-binary', data: Buffer.from('3.0\n') }]));
    await expect(readDeb(v3)).rejects.toThrow(/unsupported \.deb format "3\.0"/);
  });

  it('reports a damaged compressed member', async () => {
    const good = await makeDeb({ control, files });
    const members = await import('./ar.ts').then((m) => m.readAr(good));
    const data = members.find((m) => m.member.name === 'data.tar.xz')!;
    const broken = Buffer.from(good);
    // The stream flags (guarded by a CRC32): @napi-rs/lzma writes xz without a content check, so a
    // flipped byte in the payload of this fixture could decompress to other bytes without an error.
    broken[data.member.offset + 7] ^= 0x01;
    const path = await debFile(broken);
    await expect(readDeb(path)).rejects.toThrow(/cannot decompress data\.tar\.xz/);
  });

  // Found by readers.fuzz.test.ts: these escaped as plain Errors, without the hint to fetch the file again.
  it('reports a damaged tar member or control file as an ArchiveError with a hint', async () => {
    const member = (name: string, data: Uint8Array) => makeAr([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name, data }, { name: 'data.tar', data: Buffer.alloc(1024) }]);
    const badTar = await debFile(member('control.tar', Buffer.from('x'.repeat(512))));
    for (const read of [readDeb, readDebControl]) {
      const e = await read(badTar).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ArchiveError);
      expect((e as ArchiveError).message).toMatch(/control\.tar is not a readable tar/);
      expect((e as ArchiveError).hint).toMatch(/fetch it again/);
    }
    const badControl = await debFile(member('control.tar', await makeTar([{ path: './control', data: ' continuation first\n' }])));
    const e = await readDeb(badControl).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ArchiveError);
    expect((e as ArchiveError).message).toMatch(/control file is not readable: deb822 line 1/);
  });
});

describe('readDebMember', () => {
  it('returns one file of data.tar', async () => {
    const path = await debFile(await makeDeb({ control, files }));
    expect(Buffer.from(await readDebMember(path, 'usr/share/doc/hello/copyright')).toString()).toBe('GPL');
    expect(Buffer.from(await readDebMember(path, './usr/bin/hello')).toString()).toBe('ELF-hello');
  });

  it('fails clearly for a missing path or one that is not a regular file', async () => {
    const path = await debFile(await makeDeb({ control, files }));
    await expect(readDebMember(path, 'usr/src/linux.tar.xz')).rejects.toThrow(`${path} has no usr/src/linux.tar.xz`);
    await expect(readDebMember(path, 'usr/bin')).rejects.toThrow(/usr\/bin is a dir, not a regular file/);
  });
});
