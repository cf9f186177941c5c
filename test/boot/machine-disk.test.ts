// Boot sectors on a chunked disk read on demand through v86's IDE: SeaBIOS boots a hand-assembled
// boot sector that reads a sector from the third chunk with int 13h and prints it on the serial port.

import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkFile, chunkedDigestText } from '../../images/manifest.ts';
import type { Artifact, Manifest } from '../../images/manifest.ts';
import { NodeMachine, bootImage, loadManifest } from '../../worker/node/host.ts';
import type { MachineError } from '../../worker/protocol.ts';
import { initZstd, zstdCompress } from '../../worker/zstd.ts';

// The disk probe borrows SeaBIOS (a boot sector needs firmware) from an image that boots through it.
const SHELL = resolve(process.env.WHITTLE_FIRMWARE_IMAGE ?? 'images/dist/shell-stock');
const CHUNK = 64 << 10;
const CHUNKS = 4;
const DATA_LBA = 300; // in the third chunk (chunk 2 starts at LBA 256)
const MESSAGE = 'CHUNK2-LAZY-READ';

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

/** How the boot sector ends: halted for good, or echoing keyboard input (int 16h) to COM1. */
type Ending = 'halt' | 'echo-keys';

const ENDINGS: Record<Ending, number[]> = {
  halt: [0xfa, 0xf4, 0xeb, 0xfd], // cli; 1: hlt; jmp 1
  'echo-keys': [0x31, 0xc0, 0xcd, 0x16, 0xba, 0xf8, 0x03, 0xee, 0xeb, 0xf6], // 1: xor ax,ax; int 16h; mov dx,3f8h; out dx,al; jmp 1
};

/**
 * A boot sector, in 16-bit x86 machine code: print "MBR\n" on COM1, read LBA `DATA_LBA` to 0:8000
 * with int 13h AH=42h, print its first 16 bytes ("ERR\n" if the read fails), then `ending`.
 */
function bootSector(ending: Ending): Uint8Array {
  const at = (off: number) => [(0x7c00 + off) & 0xff, (0x7c00 + off) >> 8];
  const MSG1 = 0x43;
  const MSG2 = 0x47;
  const DAP = 0x4c;
  const END = 0x60;
  const code = [
    0x31, 0xc0, // xor ax,ax
    0x8e, 0xd8, // mov ds,ax
    0x8e, 0xc0, // mov es,ax
    0x8e, 0xd0, // mov ss,ax
    0xbc, 0x00, 0x7c, // mov sp,0x7c00
    0xba, 0xf8, 0x03, // mov dx,0x3f8
    0xbe, ...at(MSG1), // mov si,MSG1
    0xb9, 0x04, 0x00, // mov cx,4
    0xac, 0xee, 0xe2, 0xfc, // 1: lodsb; out dx,al; loop 1
    0xbe, ...at(DAP), // mov si,DAP
    0xb4, 0x42, // mov ah,0x42
    0xb2, 0x80, // mov dl,0x80
    0xcd, 0x13, // int 0x13
    0x72, 0x11, // jc FAIL (0x34)
    0xba, 0xf8, 0x03, // mov dx,0x3f8
    0xbe, 0x00, 0x80, // mov si,0x8000
    0xb9, 0x10, 0x00, // mov cx,16
    0xac, 0xee, 0xe2, 0xfc, // 2: lodsb; out dx,al; loop 2
    0xeb, 0x2e, 0x90, 0x90, // 0x30 DONE: jmp END (0x60)
    0xbe, ...at(MSG2), // 0x34 FAIL: mov si,MSG2
    0xba, 0xf8, 0x03, // mov dx,0x3f8
    0xb9, 0x04, 0x00, // mov cx,4
    0xac, 0xee, 0xe2, 0xfc, // 3: lodsb; out dx,al; loop 3
    0xeb, 0xed, // jmp DONE
  ];
  const sector = new Uint8Array(512);
  sector.set(code);
  expect(code.length).toBe(MSG1);
  sector.set(new TextEncoder().encode('MBR\nERR\n'), MSG1);
  const dap = new DataView(sector.buffer, DAP, 16);
  dap.setUint8(0, 16); // size of the packet
  dap.setUint16(2, 1, true); // sectors
  dap.setUint16(4, 0x8000, true); // buffer offset
  dap.setUint16(6, 0, true); // buffer segment
  dap.setBigUint64(8, BigInt(DATA_LBA), true);
  sector.set(ENDINGS[ending], END);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

let dir: string;
let keysDir: string;
let chunk2File: string;

/** Writes an image: the shell's firmware and a chunked, zstd-compressed disk holding the boot sector. */
async function writeImage(shell: Manifest, ending: Ending): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), 'whittle-disk-'));
  await mkdir(join(out, 'chunks'));
  const disk = new Uint8Array(CHUNK * CHUNKS);
  disk.set(bootSector(ending));
  disk.set(new TextEncoder().encode(MESSAGE), DATA_LBA * 512);
  const chunks: string[] = [];
  for (let i = 0; i < CHUNKS; i++) {
    const c = disk.subarray(i * CHUNK, (i + 1) * CHUNK);
    chunks.push(sha(c));
    await writeFile(join(out, chunkFile(sha(c), 'zstd')), zstdCompress(c));
    if (i === 2 && ending === 'halt') chunk2File = join(out, chunkFile(sha(c), 'zstd'));
  }
  const firmware = shell.artifacts.filter((a) => a.role === 'bios' || a.role === 'vgabios');
  for (const a of firmware) await copyFile(join(SHELL, a.file!), join(out, a.file!));
  const diskArtifact: Artifact = { role: 'disk', sha256: sha(chunkedDigestText(CHUNK, chunks)), size: disk.length, compressedSize: 0, compression: 'zstd', chunkSize: CHUNK, chunks };
  const manifest: Manifest = {
    ...shell,
    name: 'disk-probe',
    title: 'Boot sector reading a lazy disk',
    kind: 'imported',
    artifacts: [...firmware, diskArtifact],
    cmdline: undefined,
    memoryMB: 32,
    readyMarker: MESSAGE,
    smoke: [],
  };
  await writeFile(join(out, 'manifest.json'), JSON.stringify(manifest));
  return out;
}

beforeAll(async () => {
  const shell = await loadManifest(SHELL);
  await initZstd();
  dir = await writeImage(shell, 'halt');
  keysDir = await writeImage(shell, 'echo-keys');
});

afterAll(async () => {
  for (const d of [dir, keysDir]) if (d) await rm(d, { recursive: true, force: true });
});

describe('machine: chunked disk', () => {
  it('boots from a disk whose chunks are read, decompressed and verified on demand; reports a hung CPU', async () => {
    const m = await bootImage(dir);
    try {
      await m.ready(60_000);
      expect(m.output).toContain('MBR\n');
      expect(m.output).not.toContain('ERR');
      expect(m.output).toContain(MESSAGE);
      await expect.poll(() => m.stats?.diskReadBytes ?? 0, { timeout: 5000 }).toBeGreaterThanOrEqual(1024);
      // The boot sector ends in `cli; hlt`: a CPU that can never wake again.
      const hung = await new Promise<MachineError>((resolve) => m.on('error', resolve));
      expect(hung.code).toBe('guest-unresponsive');
      expect(hung.message).toMatch(/interrupts disabled/);
      expect(m.status).toBe('running'); // reported, not stopped: the user decides
    } finally {
      await m.stop();
    }
  });

  it('stops with a hash-mismatch error when a chunk read during boot is damaged', async () => {
    const damaged = new Uint8Array(CHUNK);
    damaged.set(new TextEncoder().encode('NOT-WHAT-WAS-HASHED'), (DATA_LBA - 2 * (CHUNK / 512)) * 512);
    await writeFile(chunk2File, zstdCompress(damaged));
    const m = new NodeMachine(dir, await loadManifest(dir));
    const errors: MachineError[] = [];
    m.on('error', (e) => errors.push(e));
    try {
      await m.boot(); // chunk 0 is fine: the machine starts
      await expect.poll(() => m.status, { timeout: 30_000 }).toBe('stopped');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: 'hash-mismatch' });
      expect(errors[0].message).toMatch(/chunk 2 of the disk/);
      expect(m.output).not.toContain('NOT-WHAT-WAS-HASHED');
    } finally {
      await m.stop();
    }
  });

  it('types on the PS/2 keyboard: text, and physical keys pressed and released', async () => {
    const m = await bootImage(keysDir);
    try {
      await m.ready(60_000);
      m.send({ type: 'keyboard', text: 'hi there' });
      await m.waitFor('hi there');
      m.send({ type: 'keyboard', keys: [{ code: 'KeyW', down: true }, { code: 'KeyW', down: false }, { code: 'Digit7', down: true }, { code: 'Digit7', down: false }] });
      await m.waitFor('hi therew7');
    } finally {
      await m.stop();
    }
  });
});
