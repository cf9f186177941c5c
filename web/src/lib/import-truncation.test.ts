// Truncation checks on imported ISOs and disks: a header built here, whole and cut off.

import { describe, expect, it } from 'vitest';
import { detectImportType, HEADER_BYTES } from './import-detect.ts';
import { checkTruncation, diskDeclaredSize, isoDeclaredSize } from './import-truncation.ts';

/** The first HEADER_BYTES of an ISO 9660 image of `blocks` 2 KiB blocks (a primary volume descriptor only). */
function isoHeader(blocks: number): Uint8Array {
  const b = new Uint8Array(HEADER_BYTES);
  const pvd = 16 * 2048;
  b[pvd] = 1;
  b.set(new TextEncoder().encode('CD001'), pvd + 1);
  b[pvd + 6] = 1;
  const v = new DataView(b.buffer);
  v.setUint32(pvd + 80, blocks, true);
  v.setUint32(pvd + 84, blocks, false);
  v.setUint16(pvd + 128, 2048, true);
  v.setUint16(pvd + 130, 2048, false);
  return b;
}

function mbrHeader(parts: { type: number; start: number; sectors: number }[]): Uint8Array {
  const b = new Uint8Array(HEADER_BYTES);
  const v = new DataView(b.buffer);
  parts.forEach((p, i) => {
    const at = 446 + 16 * i;
    b[at + 4] = p.type;
    v.setUint32(at + 8, p.start, true);
    v.setUint32(at + 12, p.sectors, true);
  });
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

function gptHeader(lastSector: number, partitionLast: number): Uint8Array {
  const b = mbrHeader([{ type: 0xee, start: 1, sectors: lastSector }]);
  const v = new DataView(b.buffer);
  b.set(new TextEncoder().encode('EFI PART'), 512);
  v.setBigUint64(512 + 32, BigInt(lastSector), true); // backup header LBA
  v.setBigUint64(512 + 72, 2n, true); // entries at LBA 2
  v.setUint32(512 + 80, 128, true);
  v.setUint32(512 + 84, 128, true);
  const e = 2 * 512;
  b[e] = 0xaf; // a non-zero type GUID
  v.setBigUint64(e + 32, 2048n, true);
  v.setBigUint64(e + 40, BigInt(partitionLast), true);
  return b;
}

describe('ISO 9660 truncation', () => {
  const size = 2400 * 2048; // 4.9 MB, like the rescue CD in issue 12
  const header = isoHeader(2400);

  it('reads the declared size from the primary volume descriptor', () => {
    expect(detectImportType(header, size, 'rescue.iso').kind).toBe('iso');
    expect(isoDeclaredSize(header)).toBe(size);
    expect(checkTruncation('iso', header, size, 'rescue.iso')).toBeUndefined();
    expect(checkTruncation('iso', header, size + 4096, 'rescue.iso')).toBeUndefined(); // padded: fine
  });

  it('says a cut-off copy is cut off, by how much, and what to do', () => {
    const t = checkTruncation('iso', header, 100_000, 'rescue.iso');
    expect(t).toMatchObject({ expected: size, actual: 100_000 });
    expect(t?.message).toBe('rescue.iso is cut off: its volume descriptor says the CD image has 4.92 MB, but the file has 100 kB (2 %).');
    expect(t?.hint).toMatch(/Download it again/);
  });

  it('does not guess without a primary volume descriptor', () => {
    const b = isoHeader(2400);
    b[16 * 2048] = 2; // a supplementary descriptor first
    expect(isoDeclaredSize(b)).toBeUndefined();
  });
});

describe('disk truncation', () => {
  it('checks MBR partition extents against the file size', () => {
    const h = mbrHeader([{ type: 0x83, start: 2048, sectors: 2048 * 100 }]);
    const whole = (2048 + 2048 * 100) * 512;
    expect(diskDeclaredSize(h)).toBe(whole);
    expect(checkTruncation('disk', h, whole, 'disk.img')).toBeUndefined();
    expect(checkTruncation('disk', h, whole - 512, 'disk.img')?.message).toMatch(/disk\.img is cut off: its partition table says the disk has/);
  });

  it('checks GPT partitions and the backup header at the last sector', () => {
    const h = gptHeader(204_799, 200_000);
    expect(diskDeclaredSize(h)).toBe(204_800 * 512);
    expect(checkTruncation('disk', h, 204_800 * 512, 'gpt.img')).toBeUndefined();
    expect(checkTruncation('disk', h, 150_000 * 512, 'gpt.img')).toBeDefined();
  });

  it('accepts a boot sector with no partitions (a floppy-style image)', () => {
    expect(diskDeclaredSize(mbrHeader([]))).toBeUndefined();
    expect(checkTruncation('disk', mbrHeader([]), 1024, 'boot.img')).toBeUndefined();
  });
});
