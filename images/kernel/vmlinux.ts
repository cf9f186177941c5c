// The uncompressed kernel inside a bzImage: the ELF (`vmlinux.bin`, stripped) that the bzImage's own
// decompressor would unpack in the guest. Appliances hand it to the machine for a direct kernel entry
// (worker/linux-boot.ts): no firmware, no in-guest decompression. Taken from the built bzImage, so the
// kernel a direct boot runs is byte for byte the one the SeaBIOS path runs.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runHostTool } from '../host-process.ts';
import { fail } from '../log.ts';

// Setup header fields (Documentation/arch/x86/boot.rst): the payload is the compressed kernel.
const SETUP_SECTS = 0x1f1;
const HEADER = 0x202;
const VERSION = 0x206;
const PAYLOAD_OFFSET = 0x248;
const PAYLOAD_LENGTH = 0x24c;
/** payload_offset/payload_length exist from boot protocol 2.08 on. */
const PAYLOAD_PROTOCOL = 0x0208;
/** lz4's legacy frame (`lz4 -l`), which the kernel's CONFIG_KERNEL_LZ4 build writes (scripts/Makefile.lib). */
const LZ4_LEGACY_MAGIC = 0x184c2102;
const ELF_MAGIC = 0x464c457f;

const HINT = 'Build the appliance with "kernel": { "boot": "firmware" } (SeaBIOS and the bzImage), or use an LZ4-compressed tailored kernel.';

/** The compressed payload of a bzImage and the uncompressed size the build appended to it. */
export function bzImagePayload(bzImage: Uint8Array): { payload: Uint8Array; size: number } {
  const dv = new DataView(bzImage.buffer, bzImage.byteOffset, bzImage.byteLength);
  if (bzImage.length < 0x260 || dv.getUint32(HEADER, true) !== 0x53726448) fail('The kernel is not a bzImage (no "HdrS" setup header)', { hint: HINT });
  if (dv.getUint16(VERSION, true) < PAYLOAD_PROTOCOL) fail('The bzImage is older than boot protocol 2.08: it does not say where its payload is', { hint: HINT });
  const setupSects = bzImage[SETUP_SECTS] || 4; // boot.rst: 0 means 4
  const start = (setupSects + 1) * 512 + dv.getUint32(PAYLOAD_OFFSET, true);
  const length = dv.getUint32(PAYLOAD_LENGTH, true);
  if (length < 8 || start + length > bzImage.length) fail('The bzImage payload lies outside the file', { hint: HINT });
  // Makefile.lib's size_append: the payload ends in the uncompressed size, 32-bit little-endian.
  const size = dv.getUint32(start + length - 4, true);
  return { payload: bzImage.subarray(start, start + length - 4), size };
}

/** Decompresses the bzImage's kernel with the host's lz4 and checks it is the ELF the header promised. */
export async function vmlinuxFromBzImage(bzImage: Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
  const { payload, size } = bzImagePayload(bzImage);
  const magic = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
  if (magic !== LZ4_LEGACY_MAGIC) fail('Direct kernel entry needs an LZ4-compressed bzImage (CONFIG_KERNEL_LZ4); this payload is not LZ4', { hint: HINT });
  const dir = await mkdtemp(join(tmpdir(), 'whittle-vmlinux-'));
  try {
    await writeFile(join(dir, 'payload.lz4'), payload);
    await runHostTool('lz4', ['-d', '-q', '-f', join(dir, 'payload.lz4'), join(dir, 'vmlinux')], { signal: opts.signal });
    const elf = new Uint8Array(await readFile(join(dir, 'vmlinux')));
    if (elf.length !== size) fail(`The bzImage payload unpacked to ${elf.length} bytes, its header says ${size}`, { hint: HINT });
    if (elf.length < 52 || new DataView(elf.buffer, elf.byteOffset, 4).getUint32(0, true) !== ELF_MAGIC) fail('The bzImage payload is not an ELF kernel', { hint: HINT });
    return elf;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
