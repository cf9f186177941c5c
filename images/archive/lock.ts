// Lock files: a recipe's resolved package set, so a later build either reproduces it or names what changed.
// The schema below is the one check of a lock file; the types are inferred from it.
import * as v from 'valibot';
import { canonicalJson, sha256Hex } from '../hash.ts';
import { countSchema, describeIssues, MAX_ARTIFACT_BYTES, MAX_PACKAGES, RelativePathSchema, Sha256Schema } from '../manifest.ts';
import { fail } from './errors.ts';
import type { Resolution } from './resolve.ts';

const nonEmpty = v.pipe(v.string('must be a string'), v.minLength(1, 'must be a non-empty string'));
const strings = v.array(v.string('must be a string'), 'must be a list of strings');

export const LockedPackageSchema = v.object({
  name: nonEmpty,
  version: nonEmpty,
  arch: nonEmpty,
  /** Pool path relative to the mirror's base URL (fetched from there: never absolute, never `..`). */
  filename: RelativePathSchema,
  size: countSchema(MAX_ARTIFACT_BYTES, 'byte count'),
  sha256: Sha256Schema,
});
export type LockedPackage = v.InferOutput<typeof LockedPackageSchema>;

export const LockSchema = v.object({
  suite: v.string('must be a string'),
  arch: v.string('must be a string'),
  /** The archive's Release Date the lock was resolved against. */
  date: v.string('must be a string'),
  roots: strings,
  exclude: strings,
  /** Sorted by name. */
  packages: v.pipe(
    v.array(LockedPackageSchema, 'must be a list'),
    v.maxLength(MAX_PACKAGES, `more than ${MAX_PACKAGES} packages`),
    v.rawCheck(({ dataset, addIssue }) => {
      if (!dataset.typed) return;
      const seen = new Set<string>();
      for (const p of dataset.value) {
        if (seen.has(p.name)) addIssue({ message: `package ${p.name} is listed twice` });
        seen.add(p.name);
      }
    }),
  ),
});
export type Lock = v.InferOutput<typeof LockSchema>;

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
  if (typeof data !== 'object' || data === null || Array.isArray(data)) fail(`${source}: expected a JSON object`, { hint });
  const r = v.safeParse(LockSchema, data);
  if (!r.success) fail(`${source}: ${describeIssues(r.issues)}`, { hint });
  return normalizeLock(r.output);
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
