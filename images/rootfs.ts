// The appliance's root filesystem as an in-memory tree: merged from unpacked packages, trimmed to what
// the app needs, then written as a newc cpio.

import picomatch from 'picomatch';
import { posix } from 'node:path';
import { writeCpio, type CpioEntry } from './cpio.ts';
import { readElf } from './elf.ts';

export interface TreeEntry {
  path: string; // normalized, no leading or trailing slash
  type: 'file' | 'dir' | 'symlink' | 'char';
  mode: number;
  data?: Uint8Array;
  linkTarget?: string;
  rdev?: { major: number; minor: number };
  /** Numeric owner and group (default 0): a wide tree keeps what dpkg and the maintainer scripts set. */
  uid?: number;
  gid?: number;
  /** Package that shipped it, or `whittle` for files the builder adds. */
  owner: string;
}

/** A file as an unpacked package lists it (images/archive's DebEntry has this shape). */
export interface PackageFile {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink';
  mode: number;
  linkTarget?: string;
  data?: Uint8Array;
}

export const BUILDER_OWNER = 'whittle';

/**
 * What every appliance drops: documentation, translations, package and init-system metadata, headers
 * and static libraries, glibc's iconv modules. Apps that need any of it list it under `keep`.
 */
export const DEFAULT_DROP = [
  'usr/share/doc/**', 'usr/share/man/**', 'usr/share/info/**', 'usr/share/locale/**', 'usr/share/i18n/**',
  'usr/share/lintian/**', 'usr/share/bug/**', 'usr/share/menu/**', 'usr/share/pixmaps/**',
  'usr/share/applications/**', 'usr/share/common-licenses/**', 'usr/share/bash-completion/**',
  'usr/share/zsh/**', 'usr/share/gdb/**', 'usr/share/gcc/**', 'usr/share/apport/**', 'usr/share/polkit-1/**',
  'usr/share/debconf/**', 'usr/share/perl5/**', 'usr/lib/*/gconv/**', 'usr/lib/*/audit/**', 'usr/include/**',
  '**/*.a', 'usr/lib/*/pkgconfig/**', 'usr/share/pkgconfig/**', 'etc/init.d/**', 'etc/rc?.d/**', 'etc/systemd/**',
  'lib/systemd/**', 'usr/lib/systemd/**', 'usr/lib/tmpfiles.d/**', 'usr/lib/sysusers.d/**', 'etc/logrotate.d/**',
  'etc/cron*/**', 'var/lib/dpkg/**', 'var/cache/**', 'var/log/**', 'usr/lib/*/libthread_db*', 'lib/*/libthread_db*',
];

const LIB_DIRS = ['lib', 'lib/i386-linux-gnu', 'usr/lib', 'usr/lib/i386-linux-gnu', 'lib32', 'usr/local/lib'];
const PROGRAM_DIRS = /^(usr\/)?(local\/)?s?bin\/|^usr\/libexec\/|^init$/;

export function normalizePath(p: string): string {
  const n = posix.normalize('/' + p).replace(/^\/+|\/+$/g, '');
  if (n.startsWith('..')) throw new Error(`path escapes the root: ${p}`);
  return n;
}

export class RootTree {
  readonly entries = new Map<string, TreeEntry>();

  add(e: TreeEntry): void {
    const path = normalizePath(e.path);
    if (!path) return;
    this.ensureDirs(posix.dirname(path), e.owner);
    this.entries.set(path, { ...e, path });
  }

  ensureDirs(dir: string, owner: string): void {
    if (dir === '.' || dir === '' || this.entries.get(dir)?.type === 'dir') return;
    this.ensureDirs(posix.dirname(dir), owner);
    if (!this.entries.has(dir)) this.entries.set(dir, { path: dir, type: 'dir', mode: 0o755, owner });
  }

  /** Adds a package's files; a later package's file replaces an earlier one's at the same path. */
  addPackage(owner: string, files: readonly PackageFile[]): void {
    const links: PackageFile[] = [];
    for (const f of files) {
      if (f.type === 'hardlink') links.push(f);
      else if (f.type === 'dir' && this.entries.get(normalizePath(f.path))?.type === 'dir') continue;
      else this.add({ path: f.path, type: f.type, mode: f.mode, data: f.data, linkTarget: f.linkTarget, owner });
    }
    // A hard link becomes a copy: the initramfs is unpacked once and hard links save little here.
    for (const l of links) {
      const target = this.entries.get(normalizePath(l.linkTarget ?? ''));
      if (!target || target.type !== 'file') throw new Error(`${owner}: hard link ${l.path} points at missing ${l.linkTarget}`);
      this.add({ ...target, path: l.path, mode: l.mode || target.mode, owner });
    }
  }

  /** Follows symlinks (absolute or relative) to the entry a path finally names. */
  resolve(path: string): TreeEntry | undefined {
    return this.chain(path)?.entry;
  }

  /**
   * Follows a path as the kernel would: `links` are the symlinks passed on the way (in parent
   * components too, e.g. `bin` → `usr/bin` on a merged-/usr Debian), `entry` the one it finally names;
   * undefined when it leads nowhere.
   */
  chain(path: string, links: string[] = [], depth = 0): { entry: TreeEntry; links: string[] } | undefined {
    if (depth > 40) return undefined;
    const parts = normalizePath(path).split('/');
    let cur = '';
    for (let i = 0; i < parts.length; i++) {
      const next = cur ? `${cur}/${parts[i]}` : parts[i];
      const e = this.entries.get(next);
      if (!e) return undefined;
      if (e.type === 'symlink') {
        links.push(next);
        const target = e.linkTarget!.startsWith('/') ? e.linkTarget! : posix.join(posix.dirname(next), e.linkTarget!);
        const rest = parts.slice(i + 1).join('/');
        return this.chain(rest ? `${target}/${rest}` : target, links, depth + 1);
      }
      cur = next;
    }
    const entry = this.entries.get(cur);
    return entry && { entry, links };
  }

  delete(path: string): void {
    this.entries.delete(path);
  }

  files(): TreeEntry[] {
    return [...this.entries.values()];
  }

  /** Bytes of file contents and symlink targets (what the root filesystem holds). */
  size(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.data?.length ?? e.linkTarget?.length ?? 0;
    return n;
  }

  /** The tree as a sorted newc cpio (parents before children, every mtime `epoch`). */
  toCpio(epoch: number): Uint8Array {
    const sorted = [...this.entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const entries: CpioEntry[] = sorted.map((e) => ({ path: e.path, type: e.type, mode: e.mode, data: e.data, linkTarget: e.linkTarget, rdev: e.rdev, uid: e.uid, gid: e.gid }));
    return writeCpio(entries, epoch);
  }
}

export interface TrimReport {
  dropped: { path: string; owner: string; size: number; reason: string }[];
}

/**
 * Trims the tree: default and recipe drop globs (unless kept), then shared libraries no kept program
 * links against, then dangling symlinks and empty directories.
 */
export function trim(tree: RootTree, opts: { drop: string[]; keep: string[]; protect?: Set<string> }): TrimReport {
  const report: TrimReport = { dropped: [] };
  const keep = picomatch(opts.keep.length ? opts.keep : ['\0'], { dot: true });
  const drop = picomatch([...DEFAULT_DROP, ...opts.drop], { dot: true });
  const remove = (e: TreeEntry, reason: string) => {
    tree.delete(e.path);
    report.dropped.push({ path: e.path, owner: e.owner, size: e.data?.length ?? 0, reason });
  };
  for (const e of tree.files()) {
    if (e.type !== 'dir' && drop(e.path) && !keep(e.path)) remove(e, 'trim rule');
  }
  pruneLibraries(tree, keep, remove);
  // Dangling symlinks (e.g. to dropped docs), repeated since a link may point at a link.
  for (let changed = true; changed; ) {
    changed = false;
    for (const e of tree.files()) {
      if (e.type === 'symlink' && !tree.resolve(e.path) && !keep(e.path)) {
        remove(e, 'dangling link');
        changed = true;
      }
    }
  }
  // Empty directories, deepest first.
  const dirs = tree.files().filter((e) => e.type === 'dir').sort((a, b) => b.path.length - a.path.length);
  const hasChild = new Set<string>();
  for (const e of tree.files()) hasChild.add(posix.dirname(e.path));
  for (const d of dirs) {
    if (!hasChild.has(d.path) && !opts.protect?.has(d.path) && !keep(d.path)) {
      tree.delete(d.path);
      report.dropped.push({ path: d.path, owner: d.owner, size: 0, reason: 'empty directory' });
      // Its parent may now be empty too: recount lazily by rebuilding the set.
      hasChild.clear();
      for (const e of tree.files()) hasChild.add(posix.dirname(e.path));
    }
  }
  return report;
}

/** Where the dynamic loader finds DT_NEEDED `name` in the tree (the default search path, in order), with the links on the way. */
export function findLibrary(tree: RootTree, name: string): { entry: TreeEntry; links: string[] } | undefined {
  for (const dir of LIB_DIRS) {
    const hit = tree.chain(`${dir}/${name}`);
    if (hit) return hit;
  }
  return undefined;
}

/** Drops shared libraries that no program (or kept library) needs, following DT_NEEDED transitively. */
function pruneLibraries(tree: RootTree, keep: (p: string) => boolean, remove: (e: TreeEntry, why: string) => void): void {
  const elf = new Map<string, ReturnType<typeof readElf>>();
  for (const e of tree.files()) if (e.type === 'file' && e.data) elf.set(e.path, readElf(e.data));
  const isLibrary = (path: string) => /\.so(\.[\d.]+)?$/.test(path) || /(^|\/)ld-linux[^/]*$/.test(path);
  const findLib = (name: string) => findLibrary(tree, name)?.entry;
  const used = new Set<string>();
  const queue: string[] = [];
  const use = (path: string) => {
    if (!used.has(path)) {
      used.add(path);
      queue.push(path);
    }
  };
  for (const [path, info] of elf) {
    if (!info) continue;
    if (PROGRAM_DIRS.test(path) || !isLibrary(path) || keep(path)) use(path);
  }
  while (queue.length) {
    const info = elf.get(queue.pop()!);
    if (!info) continue;
    if (info.interpreter) {
      const interp = tree.resolve(info.interpreter);
      if (interp) use(interp.path);
    }
    for (const n of info.needed) {
      const lib = findLib(n);
      if (lib) use(lib.path);
    }
  }
  for (const [path, info] of elf) {
    if (info && isLibrary(path) && !used.has(path)) remove(tree.entries.get(path)!, 'unused library');
  }
}
