// Lock files: a recipe's resolved package set, so a later build either reproduces it or names what changed.
import { canonicalJson, sha256Hex } from '../hash.ts';
import { fail } from './errors.ts';
import type { Resolution } from './resolve.ts';

export interface LockedPackage {
  name: string;
  version: string;
  arch: string;
  /** Pool path relative to the mirror's base URL. */
  filename: string;
  size: number;
  sha256: string;
}

export interface Lock {
  suite: string;
  arch: string;
  /** The archive's Release Date the lock was resolved against. */
  date: string;
  roots: string[];
  exclude: string[];
  /** Sorted by name. */
  packages: LockedPackage[];
}

/** A lock from a resolution and the archive it came from. */
export function lockFromResolution(resolution: Resolution, archive: { suite: string; arch: string; date: string }): Lock {
  return normalizeLock({
    suite: archive.suite,
    arch: archive.arch,
    date: archive.date,
    roots: resolution.roots,
    exclude: resolution.exclude,
    packages: resolution.packages.map((p) => ({
      name: p.name,
      version: p.version,
      arch: p.architecture,
      filename: p.filename,
      size: p.size,
      sha256: p.sha256,
    })),
  });
}

/** The lock with keys in the documented order and packages sorted by name (exclude sorted, roots as given). */
function normalizeLock(lock: Lock): Lock {
  return {
    suite: lock.suite,
    arch: lock.arch,
    date: lock.date,
    roots: [...lock.roots],
    exclude: [...lock.exclude].sort(),
    packages: lock.packages
      .map((p) => ({ name: p.name, version: p.version, arch: p.arch, filename: p.filename, size: p.size, sha256: p.sha256 }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
  };
}

/** The lock file's text: pretty JSON, stable key order, trailing newline. */
export function formatLock(lock: Lock): string {
  return JSON.stringify(normalizeLock(lock), null, 2) + '\n';
}

/** Parses and checks a lock file's text; `source` names the file in errors. */
export function parseLock(text: string, source = 'lock file'): Lock {
  const hint = `Fix ${source} or delete it to resolve anew.`;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    fail(`${source} is not valid JSON: ${(cause as Error).message}`, { hint, cause });
  }
  const o = data as Record<string, unknown>;
  const bad = (what: string): never => fail(`${source}: ${what}`, { hint });
  if (typeof o !== 'object' || o === null || Array.isArray(o)) bad('expected a JSON object');
  for (const key of ['suite', 'arch', 'date'] as const) if (typeof o[key] !== 'string') bad(`"${key}" must be a string`);
  for (const key of ['roots', 'exclude'] as const) {
    if (!Array.isArray(o[key]) || !(o[key] as unknown[]).every((x) => typeof x === 'string')) bad(`"${key}" must be a list of strings`);
  }
  if (!Array.isArray(o.packages)) bad('"packages" must be a list');
  const seen = new Set<string>();
  const packages = (o.packages as unknown[]).map((raw, i) => {
    const p = raw as Record<string, unknown>;
    if (typeof p !== 'object' || p === null) bad(`packages[${i}] must be an object`);
    for (const key of ['name', 'version', 'arch', 'filename', 'sha256'] as const) {
      if (typeof p[key] !== 'string' || p[key] === '') bad(`packages[${i}].${key} must be a non-empty string`);
    }
    if (!Number.isSafeInteger(p.size) || (p.size as number) < 0) bad(`packages[${i}].size must be a byte count`);
    if (!/^[0-9a-f]{64}$/.test(p.sha256 as string)) bad(`packages[${i}].sha256 must be 64 lowercase hex digits`);
    if (seen.has(p.name as string)) bad(`package ${p.name} is listed twice`);
    seen.add(p.name as string);
    return p as unknown as LockedPackage;
  });
  return normalizeLock({ ...(o as unknown as Lock), packages });
}

/** sha256 (hex) of the lock's canonical JSON: equal locks hash equal whatever their formatting. */
export function lockHash(lock: Lock): string {
  return sha256Hex(canonicalJson(normalizeLock(lock)));
}

export interface LockDiff {
  added: { name: string; version: string }[];
  removed: { name: string; version: string }[];
  /** Same name, another version or another .deb (filename, size or sha256). */
  changed: { name: string; from: string; to: string; what: string[] }[];
  /** Top-level fields that differ: suite, arch, date, roots, exclude. */
  fields: { field: string; from: string; to: string }[];
}

/** What differs from `before` to `after`; empty lists mean the package sets are the same. */
export function diffLocks(before: Lock, after: Lock): LockDiff {
  const a = new Map(before.packages.map((p) => [p.name, p]));
  const b = new Map(after.packages.map((p) => [p.name, p]));
  const diff: LockDiff = { added: [], removed: [], changed: [], fields: [] };
  for (const [name, p] of b) if (!a.has(name)) diff.added.push({ name, version: p.version });
  for (const [name, p] of a) if (!b.has(name)) diff.removed.push({ name, version: p.version });
  for (const [name, p] of a) {
    const q = b.get(name);
    if (!q) continue;
    const what = (['version', 'arch', 'filename', 'size', 'sha256'] as const).filter((k) => p[k] !== q[k]);
    if (what.length) diff.changed.push({ name, from: p.version, to: q.version, what });
  }
  const nb = normalizeLock(before);
  const na = normalizeLock(after);
  for (const field of ['suite', 'arch', 'date', 'roots', 'exclude'] as const) {
    const from = JSON.stringify(nb[field]);
    const to = JSON.stringify(na[field]);
    if (from !== to) diff.fields.push({ field, from, to });
  }
  const byName = (x: { name: string }, y: { name: string }) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0);
  diff.added.sort(byName);
  diff.removed.sort(byName);
  diff.changed.sort(byName);
  return diff;
}

/** Whether the two locks hold the same packages (the date may differ: a newer Release with the same debs). */
export function samePackages(diff: LockDiff): boolean {
  return diff.added.length === 0 && diff.removed.length === 0 && diff.changed.length === 0;
}

/** One line per difference, e.g. `changed: libc6 2.36-9+deb12u9 → 2.36-9+deb12u10`. */
export function formatLockDiff(diff: LockDiff): string {
  const lines = [
    ...diff.fields.map((f) => `${f.field}: ${f.from} → ${f.to}`),
    ...diff.added.map((p) => `added: ${p.name} ${p.version}`),
    ...diff.removed.map((p) => `removed: ${p.name} ${p.version}`),
    ...diff.changed.map((c) =>
      c.from === c.to ? `changed: ${c.name} ${c.from} (${c.what.join(', ')} differ)` : `changed: ${c.name} ${c.from} → ${c.to}`,
    ),
  ];
  return lines.join('\n');
}
