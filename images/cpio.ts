// newc ("SVR4 no CRC") cpio writer for initramfs images, as the kernel's init/initramfs.c reads them.

export interface CpioEntry {
  path: string; // no leading slash
  type: 'file' | 'dir' | 'symlink' | 'char';
  mode: number; // permission bits (07777)
  uid?: number;
  gid?: number;
  data?: Uint8Array; // file contents
  linkTarget?: string; // symlink target
  /** Device numbers of a character device node. */
  rdev?: { major: number; minor: number };
}

const TYPE_BITS = { file: 0o100000, dir: 0o040000, symlink: 0o120000, char: 0o020000 } as const;
const encoder = new TextEncoder();

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/**
 * Writes `entries` as a newc archive. Entries are written in the given order (callers sort them so
 * a directory precedes its contents); every mtime is `mtime`, inode numbers count from 1, so equal
 * input gives byte-identical output.
 */
export function writeCpio(entries: readonly CpioEntry[], mtime: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const push = (b: Uint8Array) => {
    chunks.push(b);
    total += b.length;
  };
  const header = (ino: number, mode: number, uid: number, gid: number, nlink: number, size: number, name: string, rdev = { major: 0, minor: 0 }) => {
    const nameBytes = encoder.encode(name + '\0');
    const fields = [ino, mode, uid, gid, nlink, mtime, size, 0, 0, rdev.major, rdev.minor, nameBytes.length, 0];
    push(encoder.encode('070701' + fields.map(hex8).join('')));
    push(nameBytes);
    push(new Uint8Array(pad4(110 + nameBytes.length)));
  };
  let ino = 0;
  for (const e of entries) {
    if (!e.path || e.path.startsWith('/')) throw new Error(`cpio: bad path ${JSON.stringify(e.path)}`);
    const body = e.type === 'symlink' ? encoder.encode(e.linkTarget ?? '') : e.type === 'file' ? (e.data ?? new Uint8Array()) : new Uint8Array();
    header(++ino, TYPE_BITS[e.type] | (e.mode & 0o7777), e.uid ?? 0, e.gid ?? 0, e.type === 'dir' ? 2 : 1, body.length, e.path, e.rdev);
    push(body);
    push(new Uint8Array(pad4(body.length)));
  }
  header(0, 0, 0, 0, 1, 0, 'TRAILER!!!');
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Reads a newc archive back (for tests and inspection). */
export function readCpio(bytes: Uint8Array): CpioEntry[] {
  const dec = new TextDecoder();
  const out: CpioEntry[] = [];
  let off = 0;
  for (;;) {
    if (off + 110 > bytes.length) throw new Error('cpio: truncated header');
    const magic = dec.decode(bytes.subarray(off, off + 6));
    if (magic !== '070701') throw new Error(`cpio: bad magic at ${off}`);
    // Exactly eight hex digits: parseInt would take "-0000001" (walking backwards) or "zz" (NaN).
    const field = (i: number) => {
      const text = dec.decode(bytes.subarray(off + 6 + i * 8, off + 14 + i * 8));
      if (!/^[0-9a-fA-F]{8}$/.test(text)) throw new Error(`cpio: bad header field ${JSON.stringify(text)} at ${off}`);
      return parseInt(text, 16);
    };
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const nameStart = off + 110;
    if (nameSize === 0) throw new Error(`cpio: empty name at ${off}`);
    const name = dec.decode(bytes.subarray(nameStart, nameStart + nameSize - 1));
    const dataStart = nameStart + nameSize + pad4(110 + nameSize);
    if (name === 'TRAILER!!!') break;
    if (dataStart + size > bytes.length) throw new Error(`cpio: truncated entry ${JSON.stringify(name)} at ${off}`);
    const data = bytes.slice(dataStart, dataStart + size);
    const fmt = mode & 0o170000;
    const type = fmt === 0o040000 ? 'dir' : fmt === 0o120000 ? 'symlink' : fmt === 0o020000 ? 'char' : 'file';
    const extra = type === 'symlink' ? { linkTarget: dec.decode(data) } : type === 'file' ? { data } : type === 'char' ? { rdev: { major: field(9), minor: field(10) } } : {};
    out.push({ path: name, type, mode: mode & 0o7777, uid: field(2), gid: field(3), ...extra });
    off = dataStart + size + pad4(size);
  }
  return out;
}
