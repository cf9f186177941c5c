// Direct kernel entry: puts an uncompressed 32-bit Linux (its `vmlinux` ELF) and its initrd into guest
// memory and hands it the `boot_params` ("zero page") its 32-bit entry expects, as a boot loader would
// after the real-mode setup code ran — no firmware POST, no in-guest decompression. Firecracker and
// QEMU's microvm boot Linux the same way. The contract is the kernel's own
// Documentation/arch/x86/boot.rst ("32-bit BOOT PROTOCOL") and arch/x86/include/uapi/asm/bootparam.h.
// Environment-neutral and pure but for `enterLinux`, which sets the emulated CPU's registers.

import { MachineFailure } from './errors.ts';

/** Where the zero page goes: low memory the kernel copies it out of before using any (head_32.S). */
export const BOOT_PARAMS_ADDRESS = 0x10000;
/** The command line, right after the zero page (boot.rst: anywhere below the kernel works). */
export const CMDLINE_ADDRESS = 0x11000;
/** boot.rst: `cmdline_size` of protocol ≥ 2.06 kernels is 2047 for x86 by default (COMMAND_LINE_SIZE). */
const CMDLINE_MAX = 2047;
/** Conventional memory ends here; the EBDA and the legacy video/BIOS area above it are not RAM. */
const LOW_RAM_END = 0x9fc00;
const HIGH_RAM_START = 0x100000;
/** 32-bit lowmem ends at 896 MiB less the vmalloc reserve; an initrd must sit below it (initrd_addr_max). */
const INITRD_ADDR_MAX = 0x37ffffff;
const PAGE = 4096;

// Offsets in boot_params (arch/x86/include/uapi/asm/bootparam.h; boot.rst "THE REAL-MODE KERNEL HEADER").
const E820_ENTRIES = 0x1e8;
const SETUP_SECTS = 0x1f1;
const BOOT_FLAG = 0x1fe;
const HEADER = 0x202;
const VERSION = 0x206;
const TYPE_OF_LOADER = 0x210;
const LOADFLAGS = 0x211;
const RAMDISK_IMAGE = 0x218;
const RAMDISK_SIZE = 0x21c;
const CMD_LINE_PTR = 0x228;
const CMDLINE_SIZE = 0x238;
const E820_TABLE = 0x2d0;
/** Boot protocol 2.15 (Linux 5.x/6.x). The kernel reads a few fields gated on the version it is told. */
const PROTOCOL_VERSION = 0x020f;
/** loadflags bit 0: the protected-mode code is loaded at 0x100000 or above. */
const LOADED_HIGH = 0x01;
/** type_of_loader 0xff: "undefined" boot loader (boot.rst: for loaders with no assigned ID). */
const LOADER_UNDEFINED = 0xff;
const E820_RAM = 1;
const E820_RESERVED = 2;

const ELF_MAGIC = 0x464c457f;
const EM_386 = 3;
const PT_LOAD = 1;

/** One contiguous write into guest physical memory. */
export interface MemoryWrite {
  address: number;
  bytes: Uint8Array;
  /** Zero-filled bytes that follow `bytes` (an ELF segment's .bss). */
  zeroAfter?: number;
}

/** What to write where and how to enter the kernel. */
export interface LinuxBootPlan {
  writes: MemoryWrite[];
  /** Physical address of the kernel's 32-bit entry (`startup_32`). */
  entry: number;
  /** %esi at entry: the zero page. */
  bootParams: number;
  initrdAddress?: number;
}

function badKernel(why: string): MachineFailure {
  return new MachineFailure('bad-image', `The kernel cannot be entered directly: ${why}.`, 'Boot the image through its firmware instead (the SeaBIOS path), or rebuild it.');
}

/** The loadable segments and entry point of a 32-bit x86 ELF executable, each checked to fit `memoryBytes`. */
export function readVmlinux(elf: Uint8Array, memoryBytes: number): { entry: number; segments: MemoryWrite[]; end: number } {
  if (elf.length < 52) throw badKernel('the kernel file is too short to be an ELF executable');
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (dv.getUint32(0, true) !== ELF_MAGIC) throw badKernel('the kernel is not an ELF file (vmlinux)');
  if (elf[4] !== 1 || elf[5] !== 1) throw badKernel('the kernel is not a 32-bit little-endian ELF');
  if (dv.getUint16(18, true) !== EM_386) throw badKernel('the kernel is not built for i386');
  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  if (phentsize < 32 || phoff + phnum * phentsize > elf.length) throw badKernel('its program headers lie outside the file');
  const segments: MemoryWrite[] = [];
  let end = 0;
  let entryMapped = false;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (dv.getUint32(p, true) !== PT_LOAD) continue;
    const offset = dv.getUint32(p + 4, true);
    const paddr = dv.getUint32(p + 12, true);
    const filesz = dv.getUint32(p + 16, true);
    const memsz = dv.getUint32(p + 20, true);
    if (filesz > memsz || offset + filesz > elf.length) throw badKernel(`segment ${i} lies outside the file`);
    if (paddr < HIGH_RAM_START) throw badKernel(`segment ${i} loads at 0x${paddr.toString(16)}, below 1 MiB`);
    if (paddr + memsz > memoryBytes) {
      const needMiB = Math.ceil((paddr + memsz) / (1 << 20)) + 1;
      throw new MachineFailure('bad-image', `The kernel's segments (0x${paddr.toString(16)}–0x${(paddr + memsz).toString(16)}) do not fit in ${memoryBytes >>> 20} MiB of memory.`, `Give the machine at least ${needMiB} MiB.`);
    }
    segments.push({ address: paddr, bytes: elf.subarray(offset, offset + filesz), zeroAfter: memsz - filesz });
    end = Math.max(end, paddr + memsz);
    if (entry >= paddr && entry < paddr + memsz) entryMapped = true;
  }
  if (!segments.length) throw badKernel('it has no loadable segments');
  if (!entryMapped) throw badKernel(`its entry point 0x${entry.toString(16)} is not a physical address it loads`);
  return { entry, segments, end };
}

/**
 * Plans a direct boot: kernel segments where they link, the initrd as high in lowmem as it fits
 * (page-aligned, as boot loaders place it), and a zero page with the setup header fields the
 * 32-bit kernel reads — version, loader type, initrd, command line — plus the e820 memory map the
 * real-mode setup code would have asked the BIOS for.
 */
export function planLinuxBoot(opts: { vmlinux: Uint8Array; initrd?: Uint8Array; cmdline: string; memoryBytes: number }): LinuxBootPlan {
  const { memoryBytes } = opts;
  const kernel = readVmlinux(opts.vmlinux, memoryBytes);
  const cmdline = new TextEncoder().encode(`${opts.cmdline}\0`);
  if (cmdline.length > CMDLINE_MAX + 1) throw new MachineFailure('bad-image', `The kernel command line is ${cmdline.length - 1} bytes; Linux takes at most ${CMDLINE_MAX}.`, 'Shorten the command line.');

  const zero = new Uint8Array(PAGE);
  const bp = new DataView(zero.buffer);
  bp.setUint8(SETUP_SECTS, 4); // boot.rst: 0 means 4; the real-mode code is not there at all, so say the minimum
  bp.setUint16(BOOT_FLAG, 0xaa55, true);
  bp.setUint32(HEADER, 0x53726448, true); // "HdrS"
  bp.setUint16(VERSION, PROTOCOL_VERSION, true);
  bp.setUint8(TYPE_OF_LOADER, LOADER_UNDEFINED);
  bp.setUint8(LOADFLAGS, LOADED_HIGH);
  bp.setUint32(CMD_LINE_PTR, CMDLINE_ADDRESS, true);
  bp.setUint32(CMDLINE_SIZE, CMDLINE_MAX, true);

  const e820: [number, number, number][] = [
    [0, LOW_RAM_END, E820_RAM],
    [LOW_RAM_END, HIGH_RAM_START - LOW_RAM_END, E820_RESERVED],
    [HIGH_RAM_START, memoryBytes - HIGH_RAM_START, E820_RAM],
  ];
  bp.setUint8(E820_ENTRIES, e820.length);
  e820.forEach(([addr, size, type], i) => {
    const o = E820_TABLE + i * 20; // struct boot_e820_entry { u64 addr; u64 size; u32 type; } __packed
    bp.setUint32(o, addr, true);
    bp.setUint32(o + 8, size, true);
    bp.setUint32(o + 16, type, true);
  });

  const writes: MemoryWrite[] = [...kernel.segments, { address: CMDLINE_ADDRESS, bytes: cmdline }];
  let initrdAddress: number | undefined;
  if (opts.initrd?.length) {
    const top = Math.min(memoryBytes, INITRD_ADDR_MAX + 1);
    initrdAddress = Math.floor((top - opts.initrd.length) / PAGE) * PAGE;
    if (initrdAddress < kernel.end) {
      const needMiB = Math.ceil((kernel.end + opts.initrd.length + PAGE) / (1 << 20));
      throw new MachineFailure('bad-image', `The kernel and its ${Math.ceil(opts.initrd.length / (1 << 20))} MiB initrd do not fit in ${memoryBytes >>> 20} MiB of memory.`, `Give the machine at least ${needMiB} MiB.`);
    }
    bp.setUint32(RAMDISK_IMAGE, initrdAddress, true);
    bp.setUint32(RAMDISK_SIZE, opts.initrd.length, true);
    writes.push({ address: initrdAddress, bytes: opts.initrd });
  }
  writes.push({ address: BOOT_PARAMS_ADDRESS, bytes: zero });
  return { writes, entry: kernel.entry, bootParams: BOOT_PARAMS_ADDRESS, ...(initrdAddress === undefined ? {} : { initrdAddress }) };
}

/** The parts of v86's CPU (0.5.462, src/cpu.js) that a boot loader sets; its multiboot loader sets the same. */
export interface LinuxBootCpu {
  mem8: Uint8Array;
  reg32: Int32Array;
  cr: Int32Array;
  flags: Int32Array;
  protected_mode: Int32Array | Uint8Array;
  is_32: Int32Array | Uint8Array;
  stack_size_32: Int32Array | Uint8Array;
  segment_is_null: Uint8Array;
  segment_offsets: Int32Array;
  segment_limits: Uint32Array | Int32Array;
  sreg: Uint16Array;
  instruction_pointer: Int32Array;
  update_state_flags(): void;
  /** v86's I/O port bus (src/io.js), for the PCI configuration ports. */
  io: PortIo;
}

/** The I/O port access a boot loader uses (v86's `cpu.io`). */
export interface PortIo {
  port_write32(port: number, value: number): void;
  port_write8(port: number, value: number): void;
  port_read8(port: number): number;
}

// v86 register numbering (src/const.js): eax ecx edx ebx esp ebp esi edi; es cs ss ds fs gs.
const REG_EBX = 3;
const REG_ESP = 4;
const REG_EBP = 5;
const REG_ESI = 6;
const REG_EDI = 7;
const REG_CS = 1;
/** Flat 4 GiB code and data selectors in the boot GDT boot.rst names (__BOOT_CS 0x10, __BOOT_DS 0x18). */
const BOOT_CS = 0x10;
const BOOT_DS = 0x18;
/** EFLAGS with only the always-one bit: interrupts off, as boot.rst requires at the 32-bit entry. */
const FLAGS_DEFAULT = 0x2;

/**
 * Writes the plan into guest memory and puts the CPU where boot.rst's 32-bit protocol wants it:
 * protected mode, paging off, interrupts off, flat 4 GiB segments, %esi = zero page, %ebp = %edi =
 * %ebx = 0, at the kernel's entry. Call before the emulator first runs.
 */
export function enterLinux(cpu: LinuxBootCpu, plan: LinuxBootPlan): void {
  routePciInterrupts(cpu.io);
  for (const w of plan.writes) {
    cpu.mem8.set(w.bytes, w.address);
    if (w.zeroAfter) cpu.mem8.fill(0, w.address + w.bytes.length, w.address + w.bytes.length + w.zeroAfter);
  }
  cpu.cr[0] = 1; // PE, no paging
  cpu.protected_mode[0] = 1;
  cpu.flags[0] = FLAGS_DEFAULT;
  cpu.is_32[0] = 1;
  cpu.stack_size_32[0] = 1;
  for (let i = 0; i < 6; i++) {
    cpu.segment_is_null[i] = 0;
    cpu.segment_offsets[i] = 0;
    cpu.segment_limits[i] = 0xffffffff;
    cpu.sreg[i] = i === REG_CS ? BOOT_CS : BOOT_DS;
  }
  cpu.reg32[REG_ESI] = plan.bootParams;
  cpu.reg32[REG_EBX] = cpu.reg32[REG_EBP] = cpu.reg32[REG_EDI] = 0;
  // The kernel sets up its own stack first thing; give it one below the zero page anyway.
  cpu.reg32[REG_ESP] = BOOT_PARAMS_ADDRESS;
  cpu.instruction_pointer[0] = plan.entry;
  cpu.update_state_flags();
}

// PCI configuration mechanism #1 and the PIIX3 ISA bridge (00:01.0 in v86, src/pci.js).
const PCI_CONFIG_ADDRESS = 0xcf8;
const PCI_CONFIG_DATA = 0xcfc;
const ISA_BRIDGE = 1 << 3;
const PIIX_PIRQ_ROUTE = 0x60;
const PCI_VENDOR_ID = 0x00;
const PCI_INTERRUPT_LINE = 0x3c;
const PCI_INTERRUPT_PIN = 0x3d;
/** The IRQs SeaBIOS gives PIRQA..D on a PIIX (src/fw/pciinit.c `pci_irqs`), so a direct boot matches a firmware one. */
export const PCI_IRQS = [10, 10, 11, 11] as const;

/**
 * What SeaBIOS does for PCI interrupts before it boots Linux (src/fw/pciinit.c: piix_isa_bridge_setup,
 * piix_pci_slot_get_irq, pci_bios_init_device), which a direct entry skips: route the ISA bridge's
 * PIRQA..D links to PCI_IRQS and write each device's interrupt line. v86 raises a device's interrupt on
 * the IRQ its PIRQ link routes to (src/pci.js raise_irq), and Linux, finding no BIOS IRQ routing table,
 * takes the interrupt line as is (arch/x86/pci/irq.c pirq_enable_irq): without this every PCI device
 * (virtio-9p, ne2k) sits on IRQ 0 and its driver fails to probe ("can't find IRQ for PCI INT A").
 */
export function routePciInterrupts(io: PortIo): void {
  const select = (slot: number, reg: number) => io.port_write32(PCI_CONFIG_ADDRESS, (0x80000000 | (slot << 11) | (reg & 0xfc)) | 0);
  const read8 = (slot: number, reg: number) => {
    select(slot, reg);
    return io.port_read8(PCI_CONFIG_DATA + (reg & 3));
  };
  const write8 = (slot: number, reg: number, value: number) => {
    select(slot, reg);
    io.port_write8(PCI_CONFIG_DATA + (reg & 3), value);
  };
  for (let link = 0; link < 4; link++) write8(ISA_BRIDGE >> 3, PIIX_PIRQ_ROUTE + link, PCI_IRQS[link]);
  for (let slot = 0; slot < 32; slot++) {
    // An empty slot reads all ones (and v86 cannot take a write to it).
    if (read8(slot, PCI_VENDOR_ID) === 0xff && read8(slot, PCI_VENDOR_ID + 1) === 0xff) continue;
    const pin = read8(slot, PCI_INTERRUPT_PIN);
    if (pin >= 1 && pin <= 4) write8(slot, PCI_INTERRUPT_LINE, PCI_IRQS[(pin - 1 + slot - 1) & 3]);
  }
  // SeaBIOS also marks these IRQs level-triggered in the ELCR (ports 0x4d0/0x4d1); v86 keeps its PIC in
  // wasm, where `cpu.io` does not reach, so they stay edge-triggered, and virtio-9p's interrupts arrive
  // all the same (test/boot/share.test.ts).
}
