import { describe, expect, it } from 'vitest';
import { BOOT_PARAMS_ADDRESS, CMDLINE_ADDRESS, enterLinux, PCI_IRQS, planLinuxBoot, readVmlinux, routePciInterrupts } from './linux-boot.ts';
import type { LinuxBootCpu, PortIo } from './linux-boot.ts';

const MiB = 1 << 20;

/** A minimal i386 ELF executable: one PT_LOAD of `code` at `paddr` (+ `bss` zero bytes), entry at its start. */
function elf(opts: { paddr?: number; code?: Uint8Array; bss?: number; machine?: number; entry?: number } = {}): Uint8Array {
  const paddr = opts.paddr ?? 0x1000000;
  const code = opts.code ?? new Uint8Array([0xf4, 0xeb, 0xfd]); // hlt; jmp back
  const out = new Uint8Array(0x100 + code.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x464c457f, true);
  out[4] = 1; // 32-bit
  out[5] = 1; // little-endian
  dv.setUint16(16, 2, true); // ET_EXEC
  dv.setUint16(18, opts.machine ?? 3, true);
  dv.setUint32(24, opts.entry ?? paddr, true);
  dv.setUint32(28, 52, true); // phoff
  dv.setUint16(42, 32, true); // phentsize
  dv.setUint16(44, 1, true); // phnum
  const p = 52;
  dv.setUint32(p, 1, true); // PT_LOAD
  dv.setUint32(p + 4, 0x100, true); // offset
  dv.setUint32(p + 8, 0xc0000000 + paddr, true); // vaddr
  dv.setUint32(p + 12, paddr, true);
  dv.setUint32(p + 16, code.length, true);
  dv.setUint32(p + 20, code.length + (opts.bss ?? 0), true);
  out.set(code, 0x100);
  return out;
}

describe('readVmlinux', () => {
  it('finds the loadable segments at their physical addresses and the entry', () => {
    const k = readVmlinux(elf({ bss: 100 }), 32 * MiB);
    expect(k.entry).toBe(0x1000000);
    expect(k.segments).toHaveLength(1);
    expect(k.segments[0].address).toBe(0x1000000);
    expect(k.segments[0].zeroAfter).toBe(100);
    expect(k.end).toBe(0x1000000 + 3 + 100);
  });

  it.each([
    ['not an ELF', new Uint8Array(64), /not an ELF/],
    ['too short', new Uint8Array(10), /too short/],
    ['another machine', elf({ machine: 62 }), /not built for i386/],
    ['entry outside its segments', elf({ entry: 0x2000000 }), /entry point/],
  ])('refuses %s as bad-image', (_what, bytes, message) => {
    expect(() => readVmlinux(bytes, 64 * MiB)).toThrow(message);
    try {
      readVmlinux(bytes, 64 * MiB);
    } catch (e) {
      expect((e as { code: string }).code).toBe('bad-image');
    }
  });

  it('asks for more memory when the kernel links above the end of RAM', () => {
    expect(() => readVmlinux(elf(), 16 * MiB)).toThrow(/do not fit in 16 MiB of memory/);
  });

  it('refuses a segment that runs past the end of the file', () => {
    const bytes = elf().subarray(0, 0x101);
    expect(() => readVmlinux(bytes, 64 * MiB)).toThrow(/outside the file/);
  });
});

describe('planLinuxBoot', () => {
  const initrd = new Uint8Array(3 * MiB + 5).fill(7);
  const plan = planLinuxBoot({ vmlinux: elf(), initrd, cmdline: 'console=ttyS0 quiet', memoryBytes: 64 * MiB });
  const zeroPage = plan.writes.find((w) => w.address === BOOT_PARAMS_ADDRESS)!.bytes;
  const bp = new DataView(zeroPage.buffer, zeroPage.byteOffset);

  it('writes a setup header the 32-bit kernel accepts (boot.rst)', () => {
    expect(bp.getUint16(0x1fe, true)).toBe(0xaa55);
    expect(new TextDecoder().decode(zeroPage.subarray(0x202, 0x206))).toBe('HdrS');
    expect(bp.getUint16(0x206, true)).toBeGreaterThanOrEqual(0x0206);
    expect(zeroPage[0x211] & 1).toBe(1); // LOADED_HIGH
    expect(bp.getUint32(0x228, true)).toBe(CMDLINE_ADDRESS);
  });

  it('puts the command line NUL-terminated where the header points', () => {
    const cmd = plan.writes.find((w) => w.address === CMDLINE_ADDRESS)!.bytes;
    expect(new TextDecoder().decode(cmd)).toBe('console=ttyS0 quiet\0');
  });

  it('places the initrd page-aligned at the top of RAM and says where', () => {
    expect(plan.initrdAddress! % 4096).toBe(0);
    expect(plan.initrdAddress! + initrd.length).toBeLessThanOrEqual(64 * MiB);
    expect(64 * MiB - (plan.initrdAddress! + initrd.length)).toBeLessThan(4096);
    expect(bp.getUint32(0x218, true)).toBe(plan.initrdAddress);
    expect(bp.getUint32(0x21c, true)).toBe(initrd.length);
  });

  it('maps low RAM, the legacy hole and high RAM in e820', () => {
    expect(zeroPage[0x1e8]).toBe(3);
    const entry = (i: number) => [bp.getUint32(0x2d0 + i * 20, true), bp.getUint32(0x2d0 + i * 20 + 8, true), bp.getUint32(0x2d0 + i * 20 + 16, true)];
    expect(entry(0)).toEqual([0, 0x9fc00, 1]);
    expect(entry(1)).toEqual([0x9fc00, 0x100000 - 0x9fc00, 2]);
    expect(entry(2)).toEqual([0x100000, 64 * MiB - 0x100000, 1]);
  });

  it('says how much memory a kernel and initrd that do not fit need', () => {
    const fit = () => planLinuxBoot({ vmlinux: elf(), initrd: new Uint8Array(20 * MiB), cmdline: '', memoryBytes: 32 * MiB });
    expect(fit).toThrow(/20 MiB initrd do not fit in 32 MiB/);
    expect(() => fit()).toThrow(expect.objectContaining({ code: 'bad-image', hint: 'Give the machine at least 37 MiB.' }));
  });

  it('refuses a command line longer than Linux takes', () => {
    expect(() => planLinuxBoot({ vmlinux: elf(), cmdline: 'x'.repeat(3000), memoryBytes: 64 * MiB })).toThrow(/at most 2047/);
  });
});

describe('enterLinux', () => {
  it('loads the plan and sets up protected mode at the entry with %esi at the zero page', () => {
    const cpu: LinuxBootCpu = {
      mem8: new Uint8Array(32 * MiB).fill(0xaa),
      reg32: new Int32Array(8),
      cr: new Int32Array(8),
      flags: new Int32Array(1).fill(0x202),
      protected_mode: new Int32Array(1),
      is_32: new Int32Array(1),
      stack_size_32: new Int32Array(1),
      segment_is_null: new Uint8Array(8).fill(1),
      segment_offsets: new Int32Array(8).fill(5),
      segment_limits: new Uint32Array(8),
      sreg: new Uint16Array(8),
      instruction_pointer: new Int32Array(1),
      updated: 0,
      update_state_flags() {
        this.updated++;
      },
      io: pciBus(new Map()).io,
    } as LinuxBootCpu & { updated: number };
    const plan = planLinuxBoot({ vmlinux: elf({ bss: 16 }), cmdline: 'x', memoryBytes: 32 * MiB });
    enterLinux(cpu, plan);
    expect(Array.from(cpu.mem8.subarray(0x1000000, 0x1000003))).toEqual([0xf4, 0xeb, 0xfd]);
    expect(cpu.mem8.subarray(0x1000003, 0x1000003 + 16).every((b) => b === 0)).toBe(true); // .bss zeroed
    expect(cpu.mem8[0x1000003 + 16]).toBe(0xaa);
    expect(cpu.instruction_pointer[0]).toBe(0x1000000);
    expect(cpu.reg32[6]).toBe(BOOT_PARAMS_ADDRESS);
    expect(cpu.cr[0]).toBe(1);
    expect(cpu.flags[0] & 0x200).toBe(0); // interrupts off
    expect(Array.from(cpu.sreg.subarray(0, 6))).toEqual([0x18, 0x10, 0x18, 0x18, 0x18, 0x18]);
    expect(Array.from(cpu.segment_offsets.subarray(0, 6))).toEqual([0, 0, 0, 0, 0, 0]);
    expect((cpu as LinuxBootCpu & { updated: number }).updated).toBe(1);
  });
});

/** PCI configuration mechanism #1 over a few devices' config spaces (slot → 256 bytes), as v86's src/pci.js answers it. */
function pciBus(slots: Map<number, Uint8Array>): { io: PortIo; writesToEmpty: number } {
  let address = 0;
  const bus = { writesToEmpty: 0, io: undefined as unknown as PortIo };
  const at = () => ({ space: slots.get((address >>> 11) & 0x1f), reg: address & 0xfc });
  bus.io = {
    port_write32(port, value) {
      if (port === 0xcf8) address = value >>> 0;
    },
    port_write8(port, value) {
      const { space, reg } = at();
      if (!space) bus.writesToEmpty++;
      else space[reg + port - 0xcfc] = value;
    },
    port_read8(port) {
      const { space, reg } = at();
      return space ? space[reg + port - 0xcfc] : 0xff;
    },
  };
  return bus;
}

describe('routePciInterrupts', () => {
  it('routes PIRQA..D and gives each device the interrupt line SeaBIOS would, leaving empty slots alone', () => {
    const device = (pin: number) => {
      const space = new Uint8Array(256);
      space.set([0xf4, 0x1a], 0); // a vendor id
      space[0x3d] = pin;
      return space;
    };
    const bridge = device(0);
    // v86's slots: virtio at 6 (pin A), ne2k at 5 (pin A), VGA at 0x12 (no pin).
    const slots = new Map([[1, bridge], [5, device(1)], [6, device(1)], [0x12, device(0)]]);
    const bus = pciBus(slots);
    routePciInterrupts(bus.io);
    expect(Array.from(bridge.subarray(0x60, 0x64))).toEqual([...PCI_IRQS]);
    // SeaBIOS piix_pci_slot_get_irq: pci_irqs[(pin - 1 + slot - 1) & 3].
    expect(slots.get(5)![0x3c]).toBe(PCI_IRQS[(0 + 4) & 3]);
    expect(slots.get(6)![0x3c]).toBe(PCI_IRQS[(0 + 5) & 3]);
    expect(slots.get(0x12)![0x3c]).toBe(0);
    expect(bus.writesToEmpty).toBe(0);
  });
});
