// compareBuild: what `npm run images -- verify` says about a rebuild against a recipe's expected.json.

import { describe, expect, test } from 'vitest';
import { compareBuild, expectedFrom, type BuildRecord } from './verify.ts';

const GCC = ['gcc (Debian 12.2.0-14) 12.2.0', 'GNU ld (GNU Binutils for Debian) 2.40'];
const hex = (c: string) => c.repeat(64);

function record(over: { kernel?: string; initrd?: string; toolchain?: string[]; inputs?: string } = {}): BuildRecord {
  const artifact = (role: 'bios' | 'vgabios' | 'kernel' | 'initrd', file: string, sha256: string) => ({ role, file, sha256, size: 100, compressedSize: 90, compression: 'zstd' as const });
  return {
    manifest: {
      name: 'shell',
      inputs: over.inputs ?? 'inputs-1',
      lockHash: 'lock-1',
      artifacts: [artifact('bios', 'bios.bin', hex('a')), artifact('vgabios', 'vgabios-stdvga.bin', hex('b')), artifact('kernel', 'bzImage', over.kernel ?? hex('c')), artifact('initrd', 'initramfs.cpio', over.initrd ?? hex('d'))],
    },
    toolchain: over.toolchain ?? GCC,
  };
}

describe('compareBuild', () => {
  const expected = expectedFrom(record());

  test('identical', () => {
    expect(compareBuild(expected, record())).toEqual({ kind: 'identical', message: 'shell: all 4 artifacts identical to expected.json' });
  });

  test('a kernel built by another compiler is a notice, not a failure', () => {
    const gcc13 = ['gcc (Debian 13.2.0-25) 13.2.0', GCC[1]];
    const verdict = compareBuild(expected, record({ kernel: hex('e'), toolchain: gcc13 }));
    expect(verdict.kind).toBe('different-toolchain');
    expect(verdict.message).toBe(
      `shell: different toolchain: kernel (bzImage) not compared (recorded with ${GCC.join(', ')}; built with ${gcc13.join(', ')}); the other 3 artifacts are identical`,
    );
  });

  test('the same compiler and another kernel is a failure naming it', () => {
    const verdict = compareBuild(expected, record({ kernel: hex('e') }));
    expect(verdict).toMatchObject({ kind: 'different', artifact: 'kernel' });
    expect(verdict.message).toBe(`shell: kernel (bzImage) differs: it has sha256 ${hex('e')}, 100 bytes; expected ${hex('c')}, 100 bytes`);
  });

  test('another compiler does not excuse an initramfs that differs; the first differing artifact is named', () => {
    const verdict = compareBuild(expected, record({ kernel: hex('e'), initrd: hex('f'), toolchain: ['gcc 14'] }));
    expect(verdict).toMatchObject({ kind: 'different', artifact: 'initrd' });
  });

  test('says when expected.json was recorded from other inputs', () => {
    expect(compareBuild(expected, record({ inputs: 'inputs-2' })).message).toMatch(/identical to expected\.json \(expected\.json was recorded from other builder inputs/);
    expect(compareBuild(expected, record({ inputs: 'inputs-2', initrd: hex('f') })).message).toMatch(/^shell: initrd \(initramfs\.cpio\) differs: .* \(expected\.json was recorded/);
  });

  test('an artifact missing from either side differs', () => {
    const fewer = record();
    fewer.manifest.artifacts = fewer.manifest.artifacts.slice(0, 3);
    expect(compareBuild(expected, fewer)).toMatchObject({ kind: 'different', artifact: 'initrd', message: 'shell: initrd (initramfs.cpio) differs: it was not built' });
  });
});
