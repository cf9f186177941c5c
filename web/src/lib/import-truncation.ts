// Is an imported ISO or disk image whole? Compares the size its own header declares — the ISO 9660
// primary volume descriptor's volume space size × block size, the MBR/GPT partition extents — with
// the file's size. A cut-off download otherwise imports fine and fails inside the guest, on a screen.
// Pure: reads only the header bytes detectImportType reads (HEADER_BYTES).

import { formatBytes } from '../../../images/format.ts';
import type { ImportKind } from './import-detect.ts';

export interface Truncation {
  /** Bytes the image's header says it has. */
  expected: number;
  /** Bytes the file has. */
  actual: number;
  message: string;
  hint: string;
}

const SECTOR = 512;
/** ISO 9660 §8.4: the primary volume descriptor is logical sector 16 (2 KiB sectors). */
const PVD = 16 * 2048;

function le32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

function le64(b: Uint8Array, at: number): number {
  return le32(b, at) + le32(b, at + 4) * 2 ** 32;
}

/** Bytes an ISO declares (volume space size × logical block size), or undefined without a primary descriptor. */
export function isoDeclaredSize(header: Uint8Array): number | undefined {
  // Type 1 (primary), "CD001", version 1.
  if (header.length < PVD + 132 || header[PVD] !== 1 || String.fromCharCode(...header.subarray(PVD + 1, PVD + 6)) !== 'CD001') return undefined;
  const blocks = le32(header, PVD + 80); // both-endian: little-endian half first (§7.3.3)
  const blockSize = header[PVD + 128] | (header[PVD + 129] << 8); // §7.2.3
  if (!blocks || !blockSize) return undefined;
  return blocks * blockSize;
}

/**
 * Bytes a partitioned disk must have to hold every partition its table lists (MBR entries; for a GPT,
 * its entries and the backup header at the disk's last sector), or undefined without a table.
 */
export function diskDeclaredSize(header: Uint8Array): number | undefined {
  if (header.length < SECTOR || header[510] !== 0x55 || header[511] !== 0xaa) return undefined;
  let end = 0;
  let gpt = false;
  for (let i = 0; i < 4; i++) {
    const at = 446 + 16 * i;
    const type = header[at + 4];
    if (type === 0) continue;
    if (type === 0xee) gpt = true;
    else end = Math.max(end, (le32(header, at + 8) + le32(header, at + 12)) * SECTOR);
  }
  if (gpt && String.fromCharCode(...header.subarray(SECTOR, SECTOR + 8)) === 'EFI PART') {
    const h = SECTOR;
    end = Math.max(end, (le64(header, h + 32) + 1) * SECTOR); // the backup header's LBA: the disk's last sector
    const entriesAt = le64(header, h + 72) * SECTOR;
    const count = le32(header, h + 80);
    const size = le32(header, h + 84);
    for (let i = 0; i < count && size >= 48; i++) {
      const e = entriesAt + i * size;
      if (e + 48 > header.length) break; // entries beyond the header read: checked as far as read
      if (header.subarray(e, e + 16).every((x) => x === 0)) continue; // unused entry
      end = Math.max(end, (le64(header, e + 40) + 1) * SECTOR); // last LBA, inclusive
    }
  }
  return end || undefined;
}

/** Whether a file is shorter than its own header says; undefined when whole (or nothing is declared). */
export function checkTruncation(kind: ImportKind, header: Uint8Array, size: number, name: string): Truncation | undefined {
  const expected = kind === 'iso' ? isoDeclaredSize(header) : kind === 'disk' ? diskDeclaredSize(header) : undefined;
  if (expected === undefined || size >= expected) return undefined;
  const what = kind === 'iso' ? 'its volume descriptor says the CD image has' : 'its partition table says the disk has';
  return {
    expected,
    actual: size,
    message: `${name} is cut off: ${what} ${formatBytes(expected)}, but the file has ${formatBytes(size)} (${Math.floor((size / expected) * 100)} %).`,
    hint: 'Download it again (an interrupted download is the usual cause) and check its checksum. Importing it anyway boots only as far as the part that is there.',
  };
}
