// Import defaults: memory from what is imported, the console on the command line.

import { describe, expect, it } from 'vitest';
import { defaultSettings, detectFiles } from './import-image.ts';

const MiB = 1 << 20;

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await new Response(new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
}

function elfVmlinux(): Uint8Array {
  const b = new Uint8Array(64);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  b[16] = 2; // ET_EXEC
  b[18] = 3; // EM_386
  return b;
}

function bzImage(): Uint8Array {
  const b = new Uint8Array(0x8800);
  b.set(new TextEncoder().encode('HdrS'), 0x202);
  return b;
}

describe('defaultSettings', () => {
  it('gives a kernel with a big gzip initrd the memory its unpacked size needs', async () => {
    const initrd = await gzip(new Uint8Array(90 * MiB)); // ISIZE says 90 MiB
    const files = await detectFiles([new File([bzImage() as BlobPart], 'vmlinuz'), new File([initrd as BlobPart], 'initrd.gz')]);
    const s = defaultSettings(files, new Set());
    expect(files[1].unpackedBytes).toBe(90 * MiB);
    expect(s.memoryMB).toBeGreaterThanOrEqual(192);
    expect(s.cmdline).toBe('console=tty0 console=ttyS0');
  });

  it('gives a small initrd 128 MiB, a vmlinux only the serial console, and an ISO 256 MiB', async () => {
    const cpio = new TextEncoder().encode('070701' + '0'.repeat(200));
    const kernel = await detectFiles([new File([elfVmlinux() as BlobPart], 'vmlinux'), new File([cpio as BlobPart], 'initramfs.cpio')]);
    expect(defaultSettings(kernel, new Set())).toMatchObject({ memoryMB: 128, cmdline: 'console=ttyS0' });
    const iso = new Uint8Array(0x8800);
    iso.set(new TextEncoder().encode('CD001'), 0x8001);
    expect(defaultSettings(await detectFiles([new File([iso as BlobPart], 'x.iso')]), new Set())).toMatchObject({ memoryMB: 256, cmdline: '' });
  });
});
