import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHostTool } from '../host-process.ts';
import { bzImagePayload, vmlinuxFromBzImage } from './vmlinux.ts';

/** An ELF-looking kernel: the magic, then bytes that compress (as a kernel's do). */
function fakeElf(size = 50_000): Uint8Array {
  const elf = new Uint8Array(size);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  for (let i = 64; i < size; i++) elf[i] = (i * 7) % 251;
  return elf;
}

async function lz4Legacy(data: Uint8Array): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), 'whittle-vmlinux-test-'));
  try {
    await writeFile(join(dir, 'in'), data);
    await runHostTool('lz4', ['-l', '-q', '-f', join(dir, 'in'), join(dir, 'out')]);
    return new Uint8Array(await readFile(join(dir, 'out')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A bzImage as the kernel's build lays it out: setup sectors, then protected-mode code holding the payload + its size. */
function fakeBzImage(payload: Uint8Array, uncompressed: number, opts: { version?: number } = {}): Uint8Array {
  const setupSects = 3;
  const pm = (setupSects + 1) * 512;
  const payloadOffset = 0x100;
  const bz = new Uint8Array(pm + payloadOffset + payload.length + 4 + 64);
  const dv = new DataView(bz.buffer);
  bz[0x1f1] = setupSects;
  dv.setUint32(0x202, 0x53726448, true);
  dv.setUint16(0x206, opts.version ?? 0x020f, true);
  dv.setUint32(0x248, payloadOffset, true);
  dv.setUint32(0x24c, payload.length + 4, true);
  bz.set(payload, pm + payloadOffset);
  dv.setUint32(pm + payloadOffset + payload.length, uncompressed, true);
  return bz;
}

describe('vmlinuxFromBzImage', () => {
  it('unpacks the LZ4 payload back to the ELF the bzImage holds', async () => {
    const elf = fakeElf();
    const bz = fakeBzImage(await lz4Legacy(elf), elf.length);
    expect(bzImagePayload(bz).size).toBe(elf.length);
    expect(await vmlinuxFromBzImage(bz)).toEqual(elf);
  });

  it('refuses a payload that is not LZ4 and says how to boot it instead', async () => {
    const bz = fakeBzImage(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 0, 0, 1, 2, 3, 4]), 100); // xz
    await expect(vmlinuxFromBzImage(bz)).rejects.toThrow(/needs an LZ4-compressed bzImage/);
    await expect(vmlinuxFromBzImage(bz)).rejects.toMatchObject({ hint: expect.stringMatching(/"boot": "firmware"/) });
  });

  it('refuses a payload that unpacks to another size than the header says', async () => {
    const elf = fakeElf();
    await expect(vmlinuxFromBzImage(fakeBzImage(await lz4Legacy(elf), elf.length + 1))).rejects.toThrow(/unpacked to 50000 bytes, its header says 50001/);
  });

  it.each([
    ['no setup header', new Uint8Array(4096), /not a bzImage/],
    ['a boot protocol without payload fields', fakeBzImage(new Uint8Array(16), 16, { version: 0x0206 }), /older than boot protocol 2.08/],
  ])('refuses %s', (_what, bz, message) => {
    expect(() => bzImagePayload(bz)).toThrow(message);
  });
});
