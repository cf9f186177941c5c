// Test fixture: tiny ELF files with the program headers and dynamic entries the builder reads.

/** A minimal 32-bit little-endian ELF with PT_LOAD, PT_INTERP and PT_DYNAMIC (DT_NEEDED, DT_SONAME). */
export function makeElf(opts: { needed?: string[]; soname?: string; interp?: string }): Uint8Array {
  const strs = ['', ...(opts.needed ?? []), ...(opts.soname ? [opts.soname] : []), ...(opts.interp ? [opts.interp] : [])];
  const strtab: number[] = [];
  const offsetOf = new Map<string, number>();
  for (const s of strs) {
    offsetOf.set(s, strtab.length);
    strtab.push(...new TextEncoder().encode(s), 0);
  }
  const phnum = 3;
  const phoff = 52;
  const strOff = phoff + phnum * 32;
  const dyn: [number, number][] = [...(opts.needed ?? []).map((n) => [1, offsetOf.get(n)!] as [number, number])];
  if (opts.soname) dyn.push([14, offsetOf.get(opts.soname)!]);
  dyn.push([5, 0x1000 + strOff], [0, 0]);
  const dynOff = strOff + strtab.length + ((4 - (strtab.length % 4)) % 4);
  const size = dynOff + dyn.length * 8;
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  dv.setUint16(16, opts.interp ? 3 : 3, true);
  dv.setUint32(28, phoff, true);
  dv.setUint16(42, 32, true);
  dv.setUint16(44, phnum, true);
  const ph = (i: number, type: number, offset: number, vaddr: number, filesz: number) => {
    const p = phoff + i * 32;
    dv.setUint32(p, type, true);
    dv.setUint32(p + 4, offset, true);
    dv.setUint32(p + 8, vaddr, true);
    dv.setUint32(p + 16, filesz, true);
  };
  ph(0, 1, 0, 0x1000, size);
  ph(1, 2, dynOff, 0x1000 + dynOff, dyn.length * 8);
  if (opts.interp) ph(2, 3, strOff + offsetOf.get(opts.interp)!, 0, opts.interp.length + 1);
  b.set(strtab, strOff);
  dyn.forEach(([t, v], i) => {
    dv.setUint32(dynOff + i * 8, t, true);
    dv.setUint32(dynOff + i * 8 + 4, v, true);
  });
  return b;
}
