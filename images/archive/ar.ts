// ar archives (the outer layer of a .deb): "!<arch>\n", then 60-byte headers each followed by the data,
// padded to an even offset. GNU ("name/", "//" long-name table) and BSD ("#1/len") names are understood.
import type { FileHandle } from 'node:fs/promises';

export interface ArMember {
  name: string;
  mtime: number;
  uid: number;
  gid: number;
  mode: number;
  size: number;
  /** Offset of the member's data in the archive. */
  offset: number;
}

const MAGIC = '!<arch>\n';
const HEADER = 60;

/** Reads `length` bytes at `offset` (short only at the end of the archive). */
export type ReadAt = (offset: number, length: number) => Promise<Uint8Array>;

/** Lists the members of an ar archive of `total` bytes; `source` names it in errors. */
export async function listAr(read: ReadAt, total: number, source = 'ar archive'): Promise<ArMember[]> {
  const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
  if (latin1(await read(0, 8)) !== MAGIC) throw new Error(`${source} is not an ar archive (bad magic)`);
  const members: ArMember[] = [];
  let longNames: string | undefined;
  let pos = 8;
  while (pos < total) {
    if (pos + HEADER > total) throw new Error(`${source} is truncated (header at ${pos})`);
    const h = latin1(await read(pos, HEADER));
    if (h.slice(58, 60) !== '`\n') throw new Error(`${source} has a corrupt member header at offset ${pos}`);
    const field = (start: number, len: number) => h.slice(start, start + len).trim();
    const num = (start: number, len: number, base: 8 | 10) => {
      const s = field(start, len);
      if (!(base === 8 ? /^[0-7]*$/ : /^[0-9]*$/).test(s)) throw new Error(`${source}: bad number ${JSON.stringify(s)} in header at ${pos}`);
      return s === '' ? 0 : parseInt(s, base);
    };
    let name = field(0, 16);
    const size = num(48, 10, 10);
    let offset = pos + HEADER;
    let dataSize = size;
    if (offset + size > total) throw new Error(`${source} is truncated (member ${name} needs ${size} bytes at ${offset})`);
    if (name.startsWith('#1/')) {
      // BSD: the name is stored in front of the data and counted in its size.
      const len = Number(name.slice(3));
      if (!/^\d+$/.test(name.slice(3)) || len > size) throw new Error(`${source}: bad BSD name length ${JSON.stringify(name.slice(3))} in header at ${pos}`);
      name = latin1(await read(offset, len)).replace(/\0+$/, '');
      offset += len;
      dataSize -= len;
    } else if (name === '//') {
      longNames = latin1(await read(offset, size));
    } else if (/^\/\d+$/.test(name) && longNames !== undefined) {
      const start = Number(name.slice(1));
      const end = longNames.indexOf('/\n', start);
      name = longNames.slice(start, end < 0 ? undefined : end);
    } else if (name.endsWith('/') && name !== '/') {
      name = name.slice(0, -1);
    }
    if (name !== '//' && name !== '/' && name !== '/SYM64/') {
      members.push({ name, mtime: num(16, 12, 10), uid: num(28, 6, 10), gid: num(34, 6, 10), mode: num(40, 8, 8), size: dataSize, offset });
    }
    pos = pos + HEADER + size + (size % 2);
  }
  return members;
}

/** Members of an ar archive held in memory, with their data (subarrays, not copies). */
export async function readAr(bytes: Uint8Array, source?: string): Promise<{ member: ArMember; data: Uint8Array }[]> {
  const read: ReadAt = async (offset, length) => bytes.subarray(offset, offset + length);
  const members = await listAr(read, bytes.length, source);
  return members.map((member) => ({ member, data: bytes.subarray(member.offset, member.offset + member.size) }));
}

/** A `ReadAt` over an open file. */
export function fileReader(fh: FileHandle): ReadAt {
  return async (offset, length) => {
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buffer, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buffer.subarray(0, done);
  };
}
