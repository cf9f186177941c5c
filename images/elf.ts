// Minimal ELF reader: enough to tell executables from libraries and list DT_NEEDED/DT_SONAME, so the
// trimmer can keep exactly the shared libraries the appliance's programs link against.

export interface ElfInfo {
  class: 32 | 64;
  type: 'exec' | 'dyn' | 'rel' | 'core' | 'other';
  /** Has a PT_INTERP: a dynamically linked program (PIE executables are type 'dyn' with an interpreter). */
  interpreter?: string;
  needed: string[];
  soname?: string;
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_SONAME = 14;

export function isElf(b: Uint8Array): boolean {
  return b.length >= 52 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

/** Parses an ELF file's dynamic section; returns undefined for non-ELF input, throws on a truncated one. */
export function readElf(b: Uint8Array): ElfInfo | undefined {
  if (!isElf(b)) return undefined;
  const is64 = b[4] === 2;
  const le = b[5] === 1;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u16 = (o: number) => dv.getUint16(o, le);
  const u32 = (o: number) => dv.getUint32(o, le);
  const word = (o: number) => (is64 ? Number(dv.getBigUint64(o, le)) : u32(o));
  const types: Record<number, ElfInfo['type']> = { 1: 'rel', 2: 'exec', 3: 'dyn', 4: 'core' };
  const type = types[u16(16)] ?? 'other';
  const phoff = word(is64 ? 32 : 28);
  const phentsize = u16(is64 ? 54 : 42);
  const phnum = u16(is64 ? 56 : 44);
  const loads: { vaddr: number; offset: number; filesz: number }[] = [];
  let dyn: { offset: number; size: number } | undefined;
  let interpreter: string | undefined;
  const cstr = (off: number) => {
    let end = off;
    while (end < b.length && b[end] !== 0) end++;
    return new TextDecoder().decode(b.subarray(off, end));
  };
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    if (p + phentsize > b.length) throw new Error('ELF: truncated program headers');
    const ptype = u32(p);
    const offset = is64 ? word(p + 8) : u32(p + 4);
    const vaddr = is64 ? word(p + 16) : u32(p + 8);
    const filesz = is64 ? word(p + 32) : u32(p + 16);
    if (ptype === PT_LOAD) loads.push({ vaddr, offset, filesz });
    else if (ptype === PT_DYNAMIC) dyn = { offset, size: filesz };
    else if (ptype === PT_INTERP) interpreter = cstr(offset);
  }
  const info: ElfInfo = { class: is64 ? 64 : 32, type, interpreter, needed: [] };
  if (!dyn) return info;
  const toOffset = (vaddr: number) => {
    const seg = loads.find((l) => vaddr >= l.vaddr && vaddr < l.vaddr + l.filesz);
    if (!seg) throw new Error('ELF: dynamic string table outside any loaded segment');
    return vaddr - seg.vaddr + seg.offset;
  };
  const entSize = is64 ? 16 : 8;
  const entries: [number, number][] = [];
  for (let o = dyn.offset; o + entSize <= dyn.offset + dyn.size; o += entSize) {
    const tag = word(o);
    if (tag === DT_NULL) break;
    entries.push([tag, word(o + entSize / 2)]);
  }
  const strtab = entries.find(([t]) => t === DT_STRTAB);
  if (!strtab) return info;
  const strOff = toOffset(strtab[1]);
  for (const [tag, val] of entries) {
    if (tag === DT_NEEDED) info.needed.push(cstr(strOff + val));
    else if (tag === DT_SONAME) info.soname = cstr(strOff + val);
  }
  return info;
}
