// Keep what was touched: from the wide tree, the paths the traced run touched, the DT_NEEDED closure
// of every kept ELF file, the symlinks on the way to anything kept, the parent directories, the
// builder's own files (/init and what it starts are traced like the rest), the interpreters of kept
// `#!` scripts and the recipe's `keep`
// globs. Everything else goes. Every kept path gets the reason it is there (images/trace/files.ts).

import picomatch from 'picomatch';
import { posix } from 'node:path';
import { readElf } from '../elf.ts';
import { BUILDER_OWNER, findLibrary, type RootTree, type TrimReport } from '../rootfs.ts';
import type { KeptReason } from './files.ts';

/** The interpreter a `#!` script names, if it is one. */
export function shebang(data: Uint8Array): string | undefined {
  if (data[0] !== 0x23 || data[1] !== 0x21) return undefined;
  const end = data.indexOf(0x0a);
  const line = new TextDecoder().decode(data.subarray(2, end < 0 ? Math.min(data.length, 256) : end)).trim();
  return /^\/\S+/.exec(line)?.[0];
}

export interface KeepDecision {
  /** path (no leading slash) → why it stays. */
  reasons: Map<string, KeptReason>;
  report: TrimReport;
  /** Traced paths the tree does not hold (created at run time: logs, sockets, pid files). */
  notInTree: string[];
}

/**
 * Trims `tree` in place to what `traced` (path → first step) and the rules above keep. `protect`
 * holds builder directories that stay even when empty (mount points).
 */
export function keepTraced(tree: RootTree, traced: ReadonlyMap<string, string>, opts: { keep: string[]; protect?: ReadonlySet<string> }): KeepDecision {
  const reasons = new Map<string, KeptReason>();
  const queue: string[] = [];
  const add = (path: string, reason: KeptReason) => {
    if (!path || reasons.has(path) || !tree.entries.has(path)) return;
    reasons.set(path, reason);
    queue.push(path);
  };
  for (const e of tree.files()) if (e.owner === BUILDER_OWNER && e.type !== 'dir') add(e.path, { kind: 'init' });
  for (const d of opts.protect ?? []) add(d, { kind: 'init' });
  const notInTree: string[] = [];
  for (const [path, step] of [...traced].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (tree.entries.has(path)) add(path, { kind: 'traced', step });
    else notInTree.push(path);
  }
  if (opts.keep.length) {
    const globs = opts.keep.map((g) => ({ g, match: picomatch(g, { dot: true }) }));
    for (const e of tree.files()) {
      const hit = globs.find(({ match }) => match(e.path));
      if (hit) add(e.path, { kind: 'keep', glob: hit.g });
    }
  }
  while (queue.length) {
    const path = queue.shift()!;
    const e = tree.entries.get(path)!;
    const parent = posix.dirname(path);
    if (parent !== '.') add(parent, { kind: 'parent', of: path });
    if (e.type === 'symlink') {
      // The links on the way and what it finally names (a dangling link stays dangling: it was so in the wide run too).
      const hit = tree.chain(path);
      if (hit) {
        for (const l of hit.links) add(l, { kind: 'link', of: path });
        add(hit.entry.path, { kind: 'link', of: path });
      }
    } else if (e.type === 'file' && e.data) {
      let info;
      try {
        info = readElf(e.data);
      } catch {
        info = undefined; // a truncated ELF-looking data file: nothing it needs
      }
      if (!info) {
        // A script: the kernel runs its #! interpreter as it loads an ELF's PT_INTERP (the trace may not
        // see the interpreter's path: links followed early in boot keep their atime).
        const interp = shebang(e.data);
        const hit = interp ? tree.chain(interp) : undefined;
        if (hit) {
          for (const l of hit.links) add(l, { kind: 'needed-by', elf: `/${path}` });
          add(hit.entry.path, { kind: 'needed-by', elf: `/${path}` });
        }
        continue;
      }
      const needed = [...(info.interpreter ? [tree.chain(info.interpreter)] : []), ...info.needed.map((n) => findLibrary(tree, n))];
      for (const hit of needed) {
        if (!hit) continue;
        for (const l of hit.links) add(l, { kind: 'needed-by', elf: `/${path}` });
        add(hit.entry.path, { kind: 'needed-by', elf: `/${path}` });
      }
    }
  }
  const report: TrimReport = { dropped: [] };
  for (const e of tree.files()) {
    if (reasons.has(e.path)) continue;
    tree.delete(e.path);
    report.dropped.push({ path: e.path, owner: e.owner, size: e.data?.length ?? 0, reason: 'not touched' });
  }
  report.dropped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { reasons, report, notInTree };
}
