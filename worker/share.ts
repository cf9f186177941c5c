// The host share from the host's side: v86's in-memory 9p filesystem (lib/filesystem.js), which the
// guest mounts at /mnt/host. Put a file (read from a Blob in chunks, then linked in whole, so the guest
// never sees half of it), list the share, read a file back, pack it all as a tar. Environment-neutral.

import tarStream from 'tar-stream';
import { MachineFailure } from './errors.ts';
import type { ShareEntry } from './protocol.ts';
import { SHARE_LIMIT_BYTES, SHARE_MOUNT, shareFullProblem, sharePathProblem } from './share-path.ts';

/** What the share uses of an inode (lib/filesystem.js `Inode`). */
interface V86Inode {
  mode: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  atime: number;
  ctime: number;
  direntries: Map<string, number>;
  symlink: string;
}

/** The part of v86's `FS` the share drives (v86 0.5.462, lib/filesystem.js; names survive its minifier). */
export interface V86Filesystem {
  SearchPath(path: string): { id: number; parentid: number; name: string };
  GetInode(id: number): V86Inode;
  CreateDirectory(name: string, parentid: number): number;
  CreateFile(name: string, parentid: number): number;
  Unlink(parentid: number, name: string): number;
  /** Replaces a file's data with `buffer` as is (CreateBinaryFile would copy it: twice the memory). */
  set_data(id: number, buffer: Uint8Array): Promise<void>;
  Read(id: number, offset: number, count: number): Promise<Uint8Array | null>;
  /** A no-op hook v86 calls on every create, write, rename and delete (its "watch" feature, left unfinished). */
  NotifyListeners(id: number, action: string, info?: unknown): void;
}

const S_IFMT = 0xf000;
const S_IFDIR = 0x4000;
const S_IFREG = 0x8000;
const S_IFLNK = 0xa000;
const ROOT = 0;
/** Bytes read from a Blob at a time: a progress event each, and no second copy of a large file. */
export const PUT_CHUNK = 4 << 20;
/** Entries a listing returns at most (a guest can make millions; the panel shows a few hundred). */
const LIST_MAX = 10_000;

const kindOf = (mode: number): ShareEntry['kind'] => {
  const t = mode & S_IFMT;
  return t === S_IFREG ? 'file' : t === S_IFDIR ? 'dir' : t === S_IFLNK ? 'link' : 'other';
};

const PLAIN_NAME = `Give the file a plain name such as data.csv (folders with "/"); it appears in the guest under ${SHARE_MOUNT}.`;

/** Throws a `bad-path` error unless `path` may name a file in the share. */
export function checkSharePath(path: string): void {
  const problem = sharePathProblem(path);
  if (problem) throw new MachineFailure('bad-path', `Not a file name for ${SHARE_MOUNT}: ${problem}.`, PLAIN_NAME);
}

export class HostShare {
  constructor(
    private readonly fs: V86Filesystem,
    onChange?: () => void,
  ) {
    if (onChange) fs.NotifyListeners = () => onChange();
  }

  /** Bytes held by the share's files. */
  usedBytes(): number {
    let n = 0;
    this.#walk(ROOT, '', (_path, inode) => {
      if (kindOf(inode.mode) === 'file') n += inode.size;
    });
    return n;
  }

  /** Every file, folder and link in the share, parents before children, sorted by path. */
  list(): { entries: ShareEntry[]; truncated: boolean; usedBytes: number; limitBytes: number } {
    const entries: ShareEntry[] = [];
    let used = 0;
    let truncated = false;
    this.#walk(ROOT, '', (path, inode) => {
      const kind = kindOf(inode.mode);
      if (kind === 'file') used += inode.size;
      if (entries.length >= LIST_MAX) truncated = true;
      else entries.push({ path, kind, size: kind === 'file' ? inode.size : 0, mtime: inode.mtime * 1000 });
    });
    entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { entries, truncated, usedBytes: used, limitBytes: SHARE_LIMIT_BYTES };
  }

  /**
   * Puts `data` at `path` (folders made as needed), replacing a file of that name. The bytes are read
   * in PUT_CHUNK pieces into one buffer, then linked in: a guest reading meanwhile sees the old file or
   * none, never a part. `mtime` (ms) is kept as the file's modification time.
   */
  async put(path: string, data: Blob, opts: { mtime?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<void> {
    checkSharePath(path);
    // Refused before reading a large file: a name whose folder is a file, a share that is full.
    this.#folder(path.split('/').slice(0, -1), false);
    this.#checkFits(path, data.size);
    const total = data.size;
    const bytes = new Uint8Array(total);
    let done = 0;
    opts.onProgress?.(0, total);
    while (done < total) {
      const part = new Uint8Array(
        await data
          .slice(done, done + PUT_CHUNK)
          .arrayBuffer()
          .catch((e: unknown) => {
            // A dropped folder, or a picked file moved or deleted since (NotReadableError, NotFoundError).
            throw new MachineFailure('file-not-found', `${path} could not be read: ${(e as Error)?.message ?? String(e)}`, 'Put files, not folders; pick the file again if it was moved or changed.', { cause: e });
          }),
      );
      if (part.length === 0) break;
      bytes.set(part, done);
      done += part.length;
      opts.onProgress?.(done, total);
    }
    if (done !== total) throw new MachineFailure('bad-path', `${path} changed while it was read (${done} of ${total} bytes).`, 'Put the file again.');
    // Checked again: the guest may have written to the share while the file was read.
    this.#checkFits(path, total);
    const parent = this.#folder(path.split('/').slice(0, -1));
    const name = path.slice(path.lastIndexOf('/') + 1);
    const old = this.fs.GetInode(parent).direntries.get(name);
    if (old !== undefined) {
      if (kindOf(this.fs.GetInode(old).mode) === 'dir') throw new MachineFailure('bad-path', `${SHARE_MOUNT}/${path} is a folder: a file cannot replace it.`, 'Give the file another name.');
      this.fs.Unlink(parent, name);
    }
    const id = this.fs.CreateFile(name, parent);
    await this.fs.set_data(id, bytes);
    const inode = this.fs.GetInode(id);
    inode.size = total;
    if (opts.mtime !== undefined) inode.mtime = inode.atime = inode.ctime = Math.floor(opts.mtime / 1000);
  }

  /** A copy of the file at `path` (the share's own buffer stays the guest's). */
  async read(path: string): Promise<{ bytes: Uint8Array; mtime: number }> {
    checkSharePath(path);
    const found = this.fs.SearchPath(path);
    if (found.id === -1) throw new MachineFailure('file-not-found', `There is no ${path} in ${SHARE_MOUNT}.`, 'Refresh the file list: the guest may have moved or removed it.');
    const inode = this.fs.GetInode(found.id);
    if (kindOf(inode.mode) !== 'file') throw new MachineFailure('bad-path', `${SHARE_MOUNT}/${path} is a ${kindOf(inode.mode) === 'dir' ? 'folder' : 'link or device'}, not a file.`, 'Download the whole share as a tar instead.');
    const data = await this.fs.Read(found.id, 0, inode.size);
    return { bytes: data ? data.slice(0, inode.size) : new Uint8Array(0), mtime: inode.mtime * 1000 };
  }

  /** The whole share as a tar (ustar; pax headers for long names): folders, files and symlinks. */
  async archive(): Promise<Uint8Array> {
    const pack = tarStream.pack();
    const chunks: Uint8Array[] = [];
    const collected = (async () => {
      for await (const chunk of pack) chunks.push(chunk as Uint8Array);
    })();
    const items: { path: string; id: number; inode: V86Inode }[] = [];
    this.#walk(ROOT, '', (path, inode, id) => items.push({ path, id, inode }));
    items.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    for (const { path, id, inode } of items) {
      const common = { name: path, mode: inode.mode & 0o7777, mtime: new Date(inode.mtime * 1000) };
      const kind = kindOf(inode.mode);
      if (kind === 'dir') pack.entry({ ...common, type: 'directory' });
      else if (kind === 'link') pack.entry({ ...common, type: 'symlink', linkname: inode.symlink });
      else if (kind === 'file') pack.entry({ ...common, type: 'file', size: inode.size }, ((await this.fs.Read(id, 0, inode.size)) ?? new Uint8Array(0)).subarray(0, inode.size));
    }
    pack.finalize();
    await collected;
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /** Takes over another share's files (a reset's new machine keeps what the old one held, as a disk does). */
  async adopt(from: HostShare): Promise<void> {
    const items: { path: string; inode: V86Inode; id: number }[] = [];
    from.#walk(ROOT, '', (path, inode, id) => items.push({ path, inode, id }));
    for (const { path, inode, id } of items) {
      const kind = kindOf(inode.mode);
      if (kind === 'dir') this.#folder(path.split('/'));
      if (kind !== 'file') continue;
      const parent = this.#folder(path.split('/').slice(0, -1));
      const copy = this.fs.CreateFile(path.slice(path.lastIndexOf('/') + 1), parent);
      await this.fs.set_data(copy, ((await from.fs.Read(id, 0, inode.size)) ?? new Uint8Array(0)).subarray(0, inode.size));
      Object.assign(this.fs.GetInode(copy), { size: inode.size, mode: inode.mode, mtime: inode.mtime, atime: inode.atime, ctime: inode.ctime });
    }
  }

  #checkFits(path: string, size: number): void {
    const found = this.fs.SearchPath(path);
    const replaced = found.id !== -1 && kindOf(this.fs.GetInode(found.id).mode) === 'file' ? this.fs.GetInode(found.id).size : 0;
    const problem = shareFullProblem(path, size, this.usedBytes() - replaced);
    if (problem) throw new MachineFailure('file-too-large', `${problem}.`, 'Use a smaller file, or remove files from the share in the guest first.');
  }

  /** The folder at `names` (from the root), made with its parents if missing (with `create: false`, checked only: -1 if missing). */
  #folder(names: string[], create = true): number {
    let dir = ROOT;
    for (let i = 0; i < names.length; i++) {
      const next = this.fs.GetInode(dir).direntries.get(names[i]);
      if (next === undefined && !create) return -1;
      if (next === undefined) dir = this.fs.CreateDirectory(names[i], dir);
      else if (kindOf(this.fs.GetInode(next).mode) === 'dir') dir = next;
      else throw new MachineFailure('bad-path', `${SHARE_MOUNT}/${names.slice(0, i + 1).join('/')} is a file, not a folder: nothing can go inside it.`, 'Give the file another name.');
    }
    return dir;
  }

  #walk(dir: number, prefix: string, visit: (path: string, inode: V86Inode, id: number) => void): void {
    for (const [name, id] of this.fs.GetInode(dir).direntries) {
      if (name === '.' || name === '..') continue;
      const inode = this.fs.GetInode(id);
      const path = prefix ? `${prefix}/${name}` : name;
      visit(path, inode, id);
      if (kindOf(inode.mode) === 'dir') this.#walk(id, path, visit);
    }
  }
}
