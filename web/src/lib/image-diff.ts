// What an appliance dropped compared with its twin: packages (with sizes) and kernel config options.

import type { PackageShare } from '../../../images/manifest.ts';

export interface PackageDiff {
  /** In the twin only: what trimming dropped, largest first. */
  dropped: PackageShare[];
  /** In both (the appliance's entry), with the twin's version when it differs. */
  kept: (PackageShare & { twinVersion?: string; twinSize: number })[];
  /** In the appliance only. */
  added: PackageShare[];
  droppedBytes: number;
}

const bySize = (a: { size: number }, b: { size: number }) => b.size - a.size || 0;

export function diffPackages(appliance: readonly PackageShare[], twin: readonly PackageShare[]): PackageDiff {
  const mine = new Map(appliance.map((p) => [p.name, p]));
  const theirs = new Map(twin.map((p) => [p.name, p]));
  const dropped = twin.filter((p) => !mine.has(p.name)).sort(bySize);
  const kept = appliance
    .filter((p) => theirs.has(p.name))
    .map((p) => {
      const t = theirs.get(p.name)!;
      return { ...p, twinSize: t.size, ...(t.version !== p.version ? { twinVersion: t.version } : {}) };
    })
    .sort(bySize);
  const added = appliance.filter((p) => !theirs.has(p.name)).sort(bySize);
  return { dropped, kept, added, droppedBytes: dropped.reduce((n, p) => n + p.size, 0) };
}

/** A kernel .config as option → value (`y`, `m`, a string or number); unset options are absent. */
export function parseKernelConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (m && m[2] !== 'n') out.set(m[1], m[2]);
  }
  return out;
}

export interface ConfigDiff {
  /** Set in the twin's kernel, not in the appliance's. */
  dropped: { option: string; value: string }[];
  /** Set in the appliance's kernel, not in the twin's. */
  added: { option: string; value: string }[];
  /** Set in both with different values (e.g. built in rather than a module). */
  changed: { option: string; value: string; twinValue: string }[];
  /** Options set in each. */
  counts: { appliance: number; twin: number };
}

export function diffKernelConfig(appliance: string, twin: string): ConfigDiff {
  const a = parseKernelConfig(appliance);
  const t = parseKernelConfig(twin);
  const sort = <T extends { option: string }>(xs: T[]) => xs.sort((x, y) => x.option.localeCompare(y.option));
  return {
    dropped: sort([...t].filter(([k]) => !a.has(k)).map(([option, value]) => ({ option, value }))),
    added: sort([...a].filter(([k]) => !t.has(k)).map(([option, value]) => ({ option, value }))),
    changed: sort([...a].filter(([k, v]) => t.has(k) && t.get(k) !== v).map(([option, value]) => ({ option, value, twinValue: t.get(option)! }))),
    counts: { appliance: a.size, twin: t.size },
  };
}

export interface FileDiff {
  /** Paths in the twin, not in the appliance (largest first). */
  dropped: { path: string; size: number; owner: string }[];
  droppedBytes: number;
  /** Paths in both. */
  shared: number;
}

/** Files the twin has and the appliance does not. */
export function diffFiles(appliance: readonly { path: string }[], twin: readonly { path: string; size: number; owner: string }[]): FileDiff {
  const mine = new Set(appliance.map((f) => f.path));
  const dropped = twin.filter((f) => !mine.has(f.path)).sort((a, b) => b.size - a.size);
  return { dropped, droppedBytes: dropped.reduce((n, f) => n + f.size, 0), shared: twin.length - dropped.length };
}
