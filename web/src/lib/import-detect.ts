// Tells what a user's file is from its magic bytes: an ISO, a raw disk, a Linux kernel or an initrd.
// Pure: reads only the first bytes of a file (see HEADER_BYTES), so a 4 GB ISO is never read whole.

import { HintedError } from '../../../images/hinted-error.ts';
import type { ArtifactRole } from '../../../images/manifest.ts';

export type ImportKind = 'iso' | 'disk' | 'kernel' | 'initrd';

export interface Detected {
  kind: ImportKind;
  /** The artifact role this file takes in an imported image. */
  role: Extract<ArtifactRole, 'cdrom' | 'disk' | 'kernel' | 'vmlinux' | 'initrd'>;
  /** What was recognised, for the user: "ISO 9660 CD image", "gzip-compressed initrd". */
  description: string;
}

/** A file or URL that cannot become an image (empty, an archive, unreachable...), with what to do. */
export class ImportError extends HintedError<'bad-import'> {
  declare readonly hint: string;
  constructor(message: string, hint: string, options: { cause?: unknown } = {}) {
    super('bad-import', message, { ...options, hint });
  }
}

/** Bytes needed to recognise every supported type: the ISO 9660 volume descriptor ends at 0x8006. */
export const HEADER_BYTES = 0x8800;

const SECTOR = 512;

function ascii(b: Uint8Array, at: number, text: string): boolean {
  if (b.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (b[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

function bytes(b: Uint8Array, at: number, magic: readonly number[]): boolean {
  return b.length >= at + magic.length && magic.every((x, i) => b[at + i] === x);
}

// Compressed initrd formats the kernel can unpack (include/linux/decompress/*, usr/Kconfig).
const INITRD_MAGICS: { magic: readonly number[]; name: string }[] = [
  { magic: [0x1f, 0x8b], name: 'gzip-compressed' },
  { magic: [0x28, 0xb5, 0x2f, 0xfd], name: 'zstd-compressed' },
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], name: 'xz-compressed' },
  { magic: [0x02, 0x21, 0x4c, 0x18], name: 'LZ4-compressed' },
  { magic: [0x42, 0x5a, 0x68], name: 'bzip2-compressed' },
  { magic: [0x89, 0x4c, 0x5a, 0x4f], name: 'LZO-compressed' },
  { magic: [0x5d, 0x00, 0x00], name: 'LZMA-compressed' },
];

/**
 * Recognises a bootable file from its first bytes (at least HEADER_BYTES of them, or the whole file if
 * smaller) and its size. Throws an ImportError saying what the file is not and what to try instead.
 */
export function detectImportType(header: Uint8Array, size: number, name = 'the file'): Detected {
  if (size === 0) throw new ImportError(`${name} is empty.`, 'Pick the image file itself, not a placeholder or a failed download.');
  // ISO first: hybrid ISOs also carry an MBR boot signature, but v86 boots them best as a CD.
  if (ascii(header, 0x8001, 'CD001')) return { kind: 'iso', role: 'cdrom', description: 'ISO 9660 CD image' };
  // Linux x86 boot protocol: "HdrS" at 0x202 (Documentation/arch/x86/boot.rst).
  if (ascii(header, 0x202, 'HdrS')) return { kind: 'kernel', role: 'kernel', description: 'Linux kernel (bzImage)' };
  if (ascii(header, 0, '070701') || ascii(header, 0, '070702')) {
    return { kind: 'initrd', role: 'initrd', description: 'initrd (uncompressed cpio)' };
  }
  for (const { magic, name: what } of INITRD_MAGICS) {
    if (bytes(header, 0, magic)) return { kind: 'initrd', role: 'initrd', description: `initrd (${what})` };
  }
  if (bytes(header, 510, [0x55, 0xaa])) {
    if (size % SECTOR !== 0) {
      throw new ImportError(
        `${name} has a boot sector but its size (${size} bytes) is not a whole number of 512-byte sectors.`,
        'The download may be cut short: fetch it again, or pad it to a multiple of 512 bytes.',
      );
    }
    const gpt = ascii(header, SECTOR, 'EFI PART');
    return { kind: 'disk', role: 'disk', description: gpt ? 'raw disk image (GPT)' : 'raw disk image (MBR)' };
  }
  if (bytes(header, 1080, [0x53, 0xef])) {
    throw new ImportError(
      `${name} is an ext2/3/4 file system without a boot loader.`,
      'Import a whole disk image (with a partition table and boot loader), or an ISO.',
    );
  }
  if (bytes(header, 0, [0x50, 0x4b, 0x03, 0x04]) || bytes(header, 0, [0x37, 0x7a, 0xbc, 0xaf])) {
    throw new ImportError(`${name} is an archive (zip or 7z), not a disk image.`, 'Extract it first and import the .iso or .img inside.');
  }
  if (bytes(header, 0, [0x51, 0x46, 0x49, 0xfb])) {
    throw new ImportError(`${name} is a QCOW2 image.`, 'Convert it to a raw disk first: qemu-img convert -O raw in.qcow2 out.img');
  }
  if (bytes(header, 0, [0x7f, 0x45, 0x4c, 0x46])) return detectElf(header, name);
  throw new ImportError(
    `${name} is not a bootable image: no ISO 9660, boot sector, Linux kernel or initrd signature found.`,
    'Import an .iso, a raw disk image (.img), or a Linux kernel (bzImage) with an optional initrd.',
  );
}

/**
 * An uncompressed kernel (vmlinux) is entered directly, without firmware (worker/linux-boot.ts): only a
 * 32-bit x86 executable can be, since v86 emulates a 32-bit CPU.
 */
function detectElf(header: Uint8Array, name: string): Detected {
  const elf32 = header[4] === 1 && header[5] === 1;
  const machine = header.length >= 20 ? header[18] | (header[19] << 8) : 0;
  const type = header.length >= 18 ? header[16] | (header[17] << 8) : 0;
  if (header[4] === 2 && machine === 62) {
    throw new ImportError(`${name} is a 64-bit (x86-64) ELF kernel; the emulated PC has a 32-bit CPU.`, 'Import a 32-bit (i386/i686) kernel: a bzImage, or a vmlinux built for i386.');
  }
  if (!elf32 || machine !== 3 || type !== 2) {
    throw new ImportError(`${name} is an ELF file but not a 32-bit x86 executable kernel.`, 'Import a bzImage (e.g. /boot/vmlinuz-*), or an i386 vmlinux.');
  }
  return { kind: 'kernel', role: 'vmlinux', description: 'Linux kernel (vmlinux, entered directly without firmware)' };
}

/** Which files make a bootable image; throws an ImportError for combinations that cannot boot. */
export function checkCombination(kinds: readonly ImportKind[]): void {
  const count = (k: ImportKind) => kinds.filter((x) => x === k).length;
  if (kinds.length === 0) throw new ImportError('No file to import.', 'Drop a file here or pick one.');
  for (const k of ['iso', 'disk', 'kernel', 'initrd'] as const) {
    if (count(k) > 1) throw new ImportError(`More than one ${k} given.`, `Import one ${k} at a time.`);
  }
  if (count('initrd') && !count('kernel')) {
    throw new ImportError('An initrd cannot boot on its own.', 'Add the Linux kernel (bzImage) it belongs to.');
  }
  if (count('kernel') === 0 && count('iso') === 0 && count('disk') === 0) {
    throw new ImportError('Nothing here can boot.', 'Import an ISO, a disk image, or a kernel.');
  }
}
