import { describe, expect, it } from 'vitest';
import { checkCombination, detectImportType, HEADER_BYTES, ImportError } from './import-detect.ts';

function header(patches: [number, number[] | string][], size = HEADER_BYTES): Uint8Array {
  const b = new Uint8Array(size);
  for (const [at, v] of patches) b.set(typeof v === 'string' ? [...v].map((c) => c.charCodeAt(0)) : v, at);
  return b;
}

describe('detectImportType', () => {
  it('recognises an ISO 9660 image, even a hybrid one with a boot sector', () => {
    const h = header([[0x8001, 'CD001'], [510, [0x55, 0xaa]]]);
    expect(detectImportType(h, 700 * 2 ** 20).kind).toBe('iso');
  });
  it('recognises a bzImage by its boot protocol header', () => {
    const h = header([[510, [0x55, 0xaa]], [0x202, 'HdrS']]);
    expect(detectImportType(h, 5_000_001)).toMatchObject({ kind: 'kernel', role: 'kernel' });
  });
  it('recognises an i386 vmlinux as a kernel entered directly', () => {
    const elf = header([[0, [0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]], [16, [2, 0, 3, 0]]], 4096);
    expect(detectImportType(elf, 30_000_000)).toMatchObject({ kind: 'kernel', role: 'vmlinux' });
  });
  it('refuses ELF files the 32-bit emulated CPU cannot enter', () => {
    const x86_64 = header([[0, [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]], [16, [2, 0, 62, 0]]], 4096);
    expect(() => detectImportType(x86_64, 4096, 'vmlinux')).toThrow(/64-bit \(x86-64\)/);
    const sharedObject = header([[0, [0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]], [16, [3, 0, 3, 0]]], 4096);
    expect(() => detectImportType(sharedObject, 4096, 'libc.so')).toThrow(/not a 32-bit x86 executable/);
  });
  it('recognises a raw MBR disk', () => {
    expect(detectImportType(header([[510, [0x55, 0xaa]]]), 64 * 2 ** 20)).toMatchObject({ kind: 'disk', role: 'disk' });
  });
  it('refuses a disk whose size is not whole sectors', () => {
    expect(() => detectImportType(header([[510, [0x55, 0xaa]]]), 64 * 2 ** 20 + 3)).toThrow(/512-byte sectors/);
  });
  it.each([
    ['070701', 'uncompressed cpio'],
    [[0x1f, 0x8b, 8], 'gzip'],
    [[0x28, 0xb5, 0x2f, 0xfd], 'zstd'],
    [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 'xz'],
  ] as const)('recognises an initrd starting with %s', (magic, what) => {
    const d = detectImportType(header([[0, magic as string | number[]]], 64), 64);
    expect(d.kind).toBe('initrd');
    expect(d.description).toContain(what);
  });
  it('explains what a text file is not, with a hint', () => {
    const text = new TextEncoder().encode('hello, this is not an image\n');
    try {
      detectImportType(text, text.length, 'notes.txt');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ImportError);
      expect((e as ImportError).message).toMatch(/notes\.txt is not a bootable image/);
      expect((e as ImportError).hint).toMatch(/\.iso/);
    }
  });
  it('names common near-misses', () => {
    expect(() => detectImportType(header([[0, [0x50, 0x4b, 3, 4]]], 64), 64)).toThrow(/archive/);
    expect(() => detectImportType(header([[0, [0x51, 0x46, 0x49, 0xfb]]], 64), 64)).toThrow(/QCOW2/);
    expect(() => detectImportType(header([[1080, [0x53, 0xef]]], 2048), 2048)).toThrow(/ext2/);
    expect(() => detectImportType(new Uint8Array(0), 0)).toThrow(/empty/);
  });
});

describe('checkCombination', () => {
  it('accepts a kernel with an initrd, an ISO, or a disk', () => {
    expect(() => checkCombination(['kernel', 'initrd'])).not.toThrow();
    expect(() => checkCombination(['iso'])).not.toThrow();
    expect(() => checkCombination(['disk'])).not.toThrow();
  });
  it('refuses an initrd alone and duplicates', () => {
    expect(() => checkCombination(['initrd'])).toThrow(/cannot boot on its own/);
    expect(() => checkCombination(['kernel', 'kernel'])).toThrow(/More than one kernel/);
    expect(() => checkCombination([])).toThrow(ImportError);
  });
});
