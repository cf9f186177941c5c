// Tiny bootable images the browser tests make themselves: a few real-mode instructions in a boot
// sector, on a 1 MiB raw disk (booted by SeaBIOS from the first IDE disk) or on an ISO 9660 CD with
// an El Torito no-emulation boot entry (booted from the CD-ROM), so the tests need no download and
// no image nobody on the project made.

const SECTOR = 512;
const CD_SECTOR = 2048;
/** BIOSes load a boot sector (and a no-emulation CD's boot image, segment 0x07C0) at this address. */
const LOAD_ADDRESS = 0x7c00;

/**
 * A 16-bit real-mode program with labels, assembled by hand: each method emits one instruction's
 * bytes (Intel SDM vol. 2 encodings). Jumps are short (rel8); `movSi` loads a label's linear address.
 */
class RealMode {
  readonly #bytes: number[] = [];
  readonly #labels = new Map<string, number>();
  readonly #rel8: { at: number; label: string }[] = [];
  readonly #abs16: { at: number; label: string }[] = [];

  label(name: string): this {
    this.#labels.set(name, this.#bytes.length);
    return this;
  }
  raw(...bytes: number[]): this {
    this.#bytes.push(...bytes);
    return this;
  }
  /** DS = 0, so DS:SI addresses the program by its linear address. */
  zeroDs(): this {
    return this.raw(0x31, 0xc0, 0x8e, 0xd8); // xor ax, ax; mov ds, ax
  }
  movSi(label: string): this {
    this.#abs16.push({ at: this.#bytes.length + 1, label });
    return this.raw(0xbe, 0, 0); // mov si, imm16
  }
  /** INT 10h AH=0Eh: teletype output of AL on page 0 (the VGA BIOS writes it into text memory at 0xB8000). */
  teletype(): this {
    return this.raw(0xb4, 0x0e, 0xbb, 0x07, 0x00, 0xcd, 0x10); // mov ah, 0x0e; mov bx, 7; int 0x10
  }
  /** INT 16h AH=00h: waits for a key, its ASCII code in AL. */
  readKey(): this {
    return this.raw(0xb4, 0x00, 0xcd, 0x16); // mov ah, 0; int 0x16
  }
  jmp(label: string): this {
    return this.#short(0xeb, label);
  }
  jz(label: string): this {
    return this.#short(0x74, label);
  }
  #short(opcode: number, label: string): this {
    this.#rel8.push({ at: this.#bytes.length + 1, label });
    return this.raw(opcode, 0);
  }
  ascii(text: string): this {
    return this.raw(...Buffer.from(text, 'latin1'), 0);
  }

  /** The program as a boot sector: 512 bytes ending in the 0x55 0xAA signature. */
  bootSector(): Buffer {
    const b = Buffer.alloc(SECTOR);
    const at = (label: string) => {
      const x = this.#labels.get(label);
      if (x === undefined) throw new Error(`no label ${label}`);
      return x;
    };
    b.set(this.#bytes);
    for (const f of this.#rel8) {
      const rel = at(f.label) - (f.at + 1);
      if (rel < -128 || rel > 127) throw new Error(`jump to ${f.label} is too far for rel8`);
      b[f.at] = rel & 0xff;
    }
    for (const f of this.#abs16) b.writeUInt16LE(LOAD_ADDRESS + at(f.label), f.at);
    if (this.#bytes.length > 510) throw new Error('boot sector program longer than 510 bytes');
    b[510] = 0x55;
    b[511] = 0xaa;
    return b;
  }
}

/**
 * Prints `message` on the VGA text screen only, then echoes every key typed on the PS/2 keyboard on
 * the screen and on the first serial port (COM1): the guest is quiet on serial until a key is typed.
 */
export function echoKeysProgram(message: string): Buffer {
  return new RealMode()
    .zeroDs()
    .movSi('message')
    .label('print')
    .raw(0xac) // lodsb
    .raw(0x08, 0xc0) // or al, al
    .jz('keys')
    .teletype()
    .jmp('print')
    .label('keys')
    .readKey()
    .raw(0xba, 0xf8, 0x03, 0xee) // mov dx, 0x3f8; out dx, al (COM1's transmit register)
    .teletype()
    .jmp('keys')
    .label('message')
    .ascii(message)
    .bootSector();
}

/** Calls INT 18h ("boot failed, try the next device"): SeaBIOS then says "No bootable device". */
export function givesUpProgram(): Buffer {
  return new RealMode().raw(0xcd, 0x18).label('hang').jmp('hang').bootSector();
}

/**
 * Turns paging on while protected mode is off (CR0.PG without CR0.PE). A real CPU answers with #GP;
 * v86 0.5 panics (src/rust/cpu/cpu.rs set_cr0: "cannot load PG without PE"), a wasm trap: an image the
 * emulator cannot run, on every boot.
 */
export function crashesV86Program(): Buffer {
  return new RealMode()
    .raw(0x0f, 0x20, 0xc0) // mov eax, cr0
    .raw(0x66, 0x0d, 0x00, 0x00, 0x00, 0x80) // or eax, 0x80000000
    .raw(0x0f, 0x22, 0xc0) // mov cr0, eax
    .label('hang')
    .jmp('hang')
    .bootSector();
}

/** A raw disk of `bytes` (1 MiB by default) with `bootSector` as its MBR and no partitions. */
export function bootDisk(bootSector: Buffer, bytes = 1 << 20): Buffer {
  const disk = Buffer.alloc(bytes);
  disk.set(bootSector, 0);
  return disk;
}

/**
 * An ISO 9660 image of `blocks` 2 KiB blocks (at least 21 with a boot program): system area, a primary
 * volume descriptor (sector 16), with `boot` an El Torito boot record (17) whose catalog (19) has a
 * no-emulation entry loading `boot` from sector 20, and the set terminator. No files: only booting.
 */
export function isoImage(blocks: number, boot?: Buffer): Buffer {
  if (boot && blocks < 21) throw new Error('a bootable ISO needs at least 21 blocks');
  const b = Buffer.alloc(blocks * CD_SECTOR);
  const descriptor = (sector: number, type: number) => {
    const at = sector * CD_SECTOR;
    b[at] = type;
    b.write('CD001', at + 1, 'latin1');
    b[at + 6] = 1;
    return at;
  };
  const pvd = descriptor(16, 1);
  b.writeUInt32LE(blocks, pvd + 80); // volume space size, both-endian (ECMA-119 §8.4.8)
  b.writeUInt32BE(blocks, pvd + 84);
  b.writeUInt16LE(CD_SECTOR, pvd + 128); // logical block size (§8.4.12)
  b.writeUInt16BE(CD_SECTOR, pvd + 130);
  if (boot) {
    // El Torito 1.0 §2.0: boot record volume descriptor, then the boot catalog it points at.
    const record = descriptor(17, 0);
    b.write('EL TORITO SPECIFICATION', record + 7, 'latin1');
    b.writeUInt32LE(19, record + 0x47);
    const catalog = 19 * CD_SECTOR;
    // Validation entry (§2.1): header 1, platform 0 (80x86), key bytes 55 AA, words summing to 0.
    b[catalog] = 1;
    b[catalog + 30] = 0x55;
    b[catalog + 31] = 0xaa;
    let sum = 0;
    for (let i = 0; i < 32; i += 2) sum += b.readUInt16LE(catalog + i);
    b.writeUInt16LE((0x10000 - (sum & 0xffff)) & 0xffff, catalog + 28);
    // Initial entry (§2.2): bootable, no emulation, default segment (0x07C0), 4 virtual sectors, at sector 20.
    const entry = catalog + 32;
    b[entry] = 0x88;
    b[entry + 1] = 0;
    b.writeUInt16LE(0, entry + 2);
    b.writeUInt16LE(CD_SECTOR / SECTOR, entry + 6);
    b.writeUInt32LE(20, entry + 8);
    b.set(boot, 20 * CD_SECTOR);
  }
  descriptor(boot ? 18 : 17, 255); // volume descriptor set terminator
  return b;
}
